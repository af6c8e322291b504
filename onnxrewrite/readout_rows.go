package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// What a readout walk knows besides initializers: exporters write small
// constants (scales, axes) as Constant nodes, and masks arrive as graph
// inputs that a few shape-keeping operators bring to the rows.

// constant returns the tensor an initializer or a Constant node of the main
// graph holds under name, nil when it is neither.
func (w *readoutWalk) constant(name string) *onnxpb.TensorProto {
	if t := w.inits[name]; t != nil {
		return t
	}
	if n := w.producer[name]; n != nil && model.IsStd(n) && n.OpType == "Constant" {
		for _, a := range n.Attribute {
			if a.Name == "value" && a.T != nil {
				return a.T
			}
		}
	}
	return nil
}

// rank returns the rank of a value where the graph makes it plain: a graph
// input with a declared shape, a constant, or a shape-keeping operator or
// Unsqueeze over one; -1 when unknown.
func (w *readoutWalk) rank(name string, depth int) int {
	if r, ok := w.ranks[name]; ok {
		return r
	}
	if t := w.constant(name); t != nil {
		return len(t.Dims)
	}
	n := w.producer[name]
	if n == nil || depth > 8 || !model.IsStd(n) || len(n.Input) == 0 {
		return -1
	}
	in := w.rank(n.Input[0], depth+1)
	switch {
	case in < 0:
		return -1
	case n.OpType == "Unsqueeze":
		axes, ok := w.axes(n)
		if !ok {
			return -1
		}
		return in + len(axes)
	case keepsShape(n.OpType):
		return in
	}
	return -1
}

// rowScale says whether value v is constant along the embedding axis
// wherever it broadcasts against the rows: its last dimension is 1, so
// that multiplying or dividing by it scales each row as a whole (an
// attention mask brought to [batch, seq, 1], a token count [batch, 1]).
func (w *readoutWalk) rowScale(v string, depth int) bool {
	if t := w.constant(v); t != nil {
		return len(t.Dims) == 0 || t.Dims[len(t.Dims)-1] == 1
	}
	if d, ok := w.lastDims[v]; ok {
		return d == 1
	}
	n := w.producer[v]
	if n == nil || depth > 8 || !model.IsStd(n) || len(n.Input) == 0 {
		return false
	}
	switch {
	case n.OpType == "Unsqueeze":
		axes, ok := w.axes(n)
		r := w.rank(n.Output[0], depth+1)
		for _, a := range axes {
			if ok && (a == -1 || r > 0 && a == int64(r-1)) {
				return true
			}
		}
		return false
	case n.OpType == "ReduceSum" || n.OpType == "ReduceMean" || n.OpType == "ReduceMax":
		axes, ok := w.axes(n)
		r := w.rank(n.Input[0], depth+1)
		if !ok || attrInt(n, "keepdims", 1) == 0 {
			return false
		}
		for _, a := range axes {
			if a == -1 || r > 0 && a == int64(r-1) {
				return true
			}
		}
		return w.rowScale(n.Input[0], depth+1)
	case keepsShape(n.OpType):
		for _, in := range n.Input {
			if in != "" && !w.rowScale(in, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// keepsShape lists element-wise operators whose output has the shape of
// their (broadcast) inputs.
func keepsShape(op string) bool {
	switch op {
	case "Cast", "Clip", "Identity", "Sqrt", "Reciprocal", "Abs", "Neg", "Max", "Min", "Add", "Sub", "Mul", "Div", "Not":
		return true
	}
	return false
}

// axes reads a node's axes from its attribute or its constant second input.
func (w *readoutWalk) axes(n *onnxpb.NodeProto) ([]int64, bool) {
	return reducerAxes(n, w.constant)
}

// tokenSelect follows the rows through a Gather or Slice that picks tokens,
// never along the embedding axis (CLS or first-token pooling): each output
// row is one of the input rows, so an error passes on unchanged.
func (w *readoutWalk) tokenSelect(it readoutItem, n *onnxpb.NodeProto, where string) (int, string) {
	if len(n.Input) == 0 || n.Input[0] != it.value || it.lead < 0 {
		return 0, where + " reads the rows other than as its data"
	}
	rank := int64(it.lead + 1)
	embedding := func(a int64) bool { return a == -1 || a == rank-1 }
	if n.OpType == "Gather" {
		a := attrInt(n, "axis", 0)
		if embedding(a) || a < -rank || a >= rank {
			return 0, where + " gathers along the embedding axis"
		}
		if t := w.constant(n.Input[1]); t != nil && len(t.Dims) == 0 {
			return it.lead - 1, "" // a scalar index drops the axis
		}
		if r := w.rank(n.Input[1], 0); r >= 0 {
			return it.lead + r - 1, ""
		}
		return -1, ""
	}
	if len(n.Input) < 4 || w.constant(n.Input[3]) == nil {
		return 0, fmt.Sprintf("%s slices axes it does not name as constants", where)
	}
	axes, ok := reducerAxes(&onnxpb.NodeProto{Input: []string{"", n.Input[3]}}, w.constant)
	for _, a := range axes {
		if !ok || embedding(a) {
			return 0, where + " slices the embedding axis"
		}
	}
	return it.lead, ""
}
