package onnxrewrite

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// lowerQuant replaces every lookup of quantized table tb by a plain
// Gather of the dequantized table, a float initializer in the chain's
// float type (for the qdq form, under the dequantized value's own name),
// and drops the integers, scales and zero points no node reads any more.
// It returns the float table's name; a float rewrite of it then replaces
// the whole chain by codes.
func lowerQuant(m *model.Model, tb *Table) (string, error) {
	q := tb.Quantized
	lay := &q.sites[0].lay
	v, err := lay.dequantize(m)
	if err != nil {
		return "", err
	}
	raw, err := model.EncodeFloats(v, lay.out)
	if err != nil {
		return "", fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	names := model.NewNamer(m)
	g := tb.def.graph
	name := names.Fresh(tb.Name + ".dequantized")
	if s0 := q.sites[0]; s0.ids == "" {
		name, g = s0.out, s0.gc // qdq: one DequantizeLinear of the table
	}
	ft := &onnxpb.TensorProto{Name: name, Dims: []int64{lay.rows, lay.cols}, DataType: int32(lay.out), RawData: raw,
		DocString: "embshrink: the dequantized table " + tb.Name}
	g.g.Initializer = append(g.g.Initializer, ft)
	m.AddTensor(ft)
	for _, s := range q.sites {
		lowerSite(s, name, names)
	}
	for _, d := range []*tableDef{lay.values, lay.scale, lay.zp} {
		if d != nil && !isRead(m, d) {
			dropDef(d)
		}
	}
	return name, nil
}

// lowerSite swaps one chain for Gather(float, ids) writing its output, at
// the place of the chain's last node.
func lowerSite(s *qsite, float string, names *model.Namer) {
	g := s.gc.g
	chain := map[*onnxpb.NodeProto]bool{}
	for _, n := range s.nodes {
		chain[n] = true
	}
	last := -1
	for i, n := range g.Node {
		if chain[n] {
			last = i
		}
	}
	var gone []string
	var out []*onnxpb.NodeProto
	for i, n := range g.Node {
		if !chain[n] {
			out = append(out, n)
			continue
		}
		for _, o := range n.Output {
			if o != s.out {
				gone = append(gone, o)
			}
		}
		if i == last && s.ids != "" {
			out = append(out, &onnxpb.NodeProto{Name: names.Fresh(s.gathers[0].Node + "/dequantized"), OpType: "Gather",
				Input: []string{float, s.ids}, Output: []string{s.out}, Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}})
		}
	}
	g.Node = out
	g.ValueInfo = without(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool {
		return slices.Contains(gone, v.Name) || s.ids == "" && v.Name == s.out
	})
}

// isRead says whether any node, in any graph, reads the tensor d defines.
func isRead(m *model.Model, d *tableDef) bool {
	read := false
	walkGraphs(m, func(gc *graphCtx) {
		for _, n := range gc.g.Node {
			for _, in := range n.Input {
				if r, ok := gc.resolve(in); ok && r != nil && r.tensor == d.tensor {
					read = true
				}
			}
		}
		for _, o := range gc.g.Output {
			if r, ok := gc.resolve(o.Name); ok && r != nil && r.tensor == d.tensor {
				read = true
			}
		}
	})
	return read
}

// dropDef removes a tensor's initializer (or Constant node) and graph
// input entry.
func dropDef(d *tableDef) {
	g := d.graph.g
	name := d.tensor.Name
	if d.constant != nil {
		name = d.constant.Output[0]
		g.Node = without(g.Node, func(n *onnxpb.NodeProto) bool { return n == d.constant })
	} else {
		g.Initializer = without(g.Initializer, func(t *onnxpb.TensorProto) bool { return t == d.tensor })
	}
	g.Input = without(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.Name == name })
	g.ValueInfo = without(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool { return v.Name == name })
}

// quantReport makes rep, the float rewrite of ft, the lowered form of
// quantized table qt, speak of qt.
func quantReport(rep *RewriteReport, qt, ft *Table) {
	q := qt.Quantized
	rep.Table, rep.Quantized = qt.Name, q
	rep.TableBytes += qt.Bytes - ft.Bytes
	rep.Notes = append(rep.Notes, fmt.Sprintf("quantized %s table (%s): its integers, scales, zero points and %s replaced by codes; rows are %s as before",
		q.Scheme, q.Form, q.Op, q.Float))
	for _, u := range q.Kept {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%s %s keeps its own quantized weights (%s)", u.OpType, u.Node, u.Detail))
	}
}

// loweredReadout is the readout of quantized table tb: that of its
// dequantized table in a copy of m whose chains are lowered to Gathers, so
// the rows are followed from where they are floats.
func loweredReadout(m *model.Model, tb *Table) (*Readout, string, error) {
	for _, s := range tb.Quantized.sites {
		if s.gc.parent != nil {
			return nil, "the table is read inside a subgraph", nil
		}
	}
	mm, ft, err := loweredCopy(m, tb)
	if err != nil {
		return nil, "", err
	}
	return FindReadout(mm, ft)
}

// loweredCopy is a copy of m with quantized table tb's chains lowered to a
// float table its Gathers read, and that table.
func loweredCopy(m *model.Model, tb *Table) (*model.Model, *Table, error) {
	// A copy of the main graph's lists, sharing the tensors (and so their
	// external data) and nodes, which lowering does not change.
	g := m.Proto.Graph
	mm := m.Derive(&onnxpb.ModelProto{IrVersion: m.Proto.IrVersion, OpsetImport: m.Proto.OpsetImport, Graph: &onnxpb.GraphProto{
		Name: g.Name, Node: slices.Clone(g.Node), Initializer: slices.Clone(g.Initializer), Input: slices.Clone(g.Input),
		Output: slices.Clone(g.Output), ValueInfo: slices.Clone(g.ValueInfo)}})
	inv, err := FindTables(mm)
	if err != nil {
		return nil, nil, err
	}
	qt, err := inv.Table(tb.Name)
	if err != nil || qt.Quantized == nil {
		return nil, nil, fmt.Errorf("%s: table %q in the copy: %v", m.Path, tb.Name, err)
	}
	name, err := lowerQuant(mm, qt)
	if err != nil {
		return nil, nil, err
	}
	if inv, err = FindTables(mm); err != nil {
		return nil, nil, err
	}
	ft, err := inv.Table(name)
	if err != nil {
		return nil, nil, err
	}
	return mm, ft, nil
}
