package roles

import (
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// graphIndex finds the node that computes a value, in the main graph or
// any subgraph: ONNX names values once in a model, outer scopes included,
// so one map serves every graph.
type graphIndex struct {
	producer map[string]*onnxpb.NodeProto
	input    map[string]bool
}

func indexGraph(m *model.Model) *graphIndex {
	ix := &graphIndex{producer: map[string]*onnxpb.NodeProto{}, input: map[string]bool{}}
	for _, in := range model.Inputs(m) {
		ix.input[in.Name] = true
	}
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, n := range g.GetNode() {
			for _, o := range n.Output {
				if _, ok := ix.producer[o]; o != "" && !ok {
					ix.producer[o] = n
				}
			}
			for _, a := range n.Attribute {
				for _, sg := range model.AttrGraphs(a) {
					walk(sg)
				}
			}
		}
	}
	walk(m.Proto.GetGraph())
	return ix
}

// carriers are the inputs of n whose values its output holds unchanged,
// selected or rearranged: the path ids (or bag offsets) take from a graph
// input to where they are read. Arithmetic (an Add of an offset) carries
// them only when arith is set: the values it makes are not the input's.
func carriers(n *onnxpb.NodeProto, arith bool) []string {
	if !model.IsStd(n) || len(n.Input) == 0 {
		return nil
	}
	switch n.OpType {
	case "Add", "Sub", "Mul", "Div", "Mod", "Min", "Max", "Neg", "Abs", "Clip":
		if arith {
			return n.Input
		}
	case "Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze", "Flatten", "Transpose",
		"Expand", "Tile", "Slice", "Gather", "GatherElements", "GatherND":
		return n.Input[:1]
	case "Concat":
		return n.Input
	}
	return nil
}

// sources walks back from value v along carriers to the main-graph inputs
// whose values v holds (or computes, with arith), in the order found;
// slice hears of every Slice on the way (an EmbeddingBag's ids are sliced
// between its offsets).
func (ix *graphIndex) sources(v string, arith bool, slice func(*onnxpb.NodeProto)) []string {
	var out []string
	seen := map[string]bool{}
	stack := []string{v}
	for len(stack) > 0 {
		v := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if v == "" || seen[v] {
			continue
		}
		seen[v] = true
		if ix.input[v] {
			out = append(out, v)
			continue
		}
		n := ix.producer[v]
		if n == nil {
			continue
		}
		if n.OpType == "Slice" && model.IsStd(n) && slice != nil {
			slice(n)
		}
		from := carriers(n, arith)
		for i := len(from) - 1; i >= 0; i-- {
			stack = append(stack, from[i])
		}
	}
	return out
}

// sliceBounds are the main-graph inputs a Slice's starts and ends come
// from, leaving out those in skip.
func (ix *graphIndex) sliceBounds(n *onnxpb.NodeProto, skip func(string) bool) []string {
	var out []string
	for _, v := range n.Input[1:min(3, len(n.Input))] {
		for _, s := range ix.sources(v, false, nil) {
			if !skip(s) && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}
