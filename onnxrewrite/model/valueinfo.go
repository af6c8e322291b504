package model

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// PruneValueInfo drops the graph.value_info entries (in every graph,
// subgraphs included) that describe no value of the model, and returns one
// line per entry it dropped, naming the graph and the value:
//
//   - an entry for a value that nothing in its graph or an enclosing graph
//     defines: optimizers and quantizers leave these behind when they remove
//     a value (PyTorch's newer exporter writes value_info for every
//     initializer, and an external quantizer that replaces the float table
//     keeps the entry);
//   - an entry for an initializer whose element type or shape is not the
//     tensor's: the tensor is the value, and the entry only contradicts it.
//
// The ONNX spec gives value_info no other role than to describe values the
// graph computes, and ONNX Runtime ignores an entry that names no value, so
// dropping them changes what no runtime computes; a reader that takes the
// graph's declarations at their word (onnx-go, for one) would otherwise see
// a value that nothing defines.
func (m *Model) PruneValueInfo() []string {
	return pruneValueInfo(m.Proto.GetGraph(), "main", nil)
}

func pruneValueInfo(g *onnxpb.GraphProto, where string, outer *dfScope) []string {
	if g == nil {
		return nil
	}
	here := &dfScope{names: map[string]bool{}, parent: outer}
	inits := map[string]*onnxpb.TensorProto{}
	for _, v := range g.Input {
		here.names[v.Name] = true
	}
	for _, t := range g.Initializer {
		here.names[t.Name] = true
		inits[t.Name] = t
	}
	for _, s := range g.SparseInitializer {
		if s.Values != nil {
			here.names[s.Values.Name] = true
		}
	}
	for _, n := range g.Node {
		for _, o := range n.Output {
			here.names[o] = true
		}
	}
	var dropped []string
	g.ValueInfo = slices.DeleteFunc(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool {
		why := ""
		if t, ok := inits[v.Name]; ok {
			why = disagreesWith(v, t)
		} else if !here.has(v.Name) {
			why = "nothing defines it"
		}
		if why != "" {
			dropped = append(dropped, fmt.Sprintf("graph %s: value_info %q dropped: %s", where, v.Name, why))
		}
		return why != ""
	})
	for i, n := range g.Node {
		for _, a := range n.Attribute {
			for _, sg := range AttrGraphs(a) {
				dropped = append(dropped, pruneValueInfo(sg, where+"/"+NodeLabel(n, i)+"."+a.Name, here)...)
			}
		}
	}
	return dropped
}

// disagreesWith says how a value_info entry contradicts initializer t, or
// returns "" when it does not: an unknown element type or dimension
// contradicts nothing.
func disagreesWith(v *onnxpb.ValueInfoProto, t *onnxpb.TensorProto) string {
	tt := v.GetType().GetTensorType()
	if tt == nil {
		return fmt.Sprintf("it does not declare a tensor, and initializer %q is one", t.Name)
	}
	if e := tt.GetElemType(); e != 0 && e != t.DataType {
		return fmt.Sprintf("it declares %s, and the initializer is %s", DTypeName(DataType(e)), DTypeName(DataType(t.DataType)))
	}
	if tt.Shape == nil {
		return ""
	}
	dims := tt.Shape.Dim
	if len(dims) != len(t.Dims) {
		return fmt.Sprintf("it declares rank %d, and the initializer has shape %v", len(dims), t.Dims)
	}
	for i, d := range dims {
		if v, ok := d.Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok && v.DimValue != t.Dims[i] {
			return fmt.Sprintf("it declares dimension %d as %d, and the initializer has shape %v", i, v.DimValue, t.Dims)
		}
	}
	return ""
}
