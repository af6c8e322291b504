package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Readout is how a model reads a table's rows: every path from the table's
// embedding Gathers passes through operators that act on rows as wholes
// (means and sums over tokens, added vectors, scaling) into a MatMul or Gemm
// with a constant weight. An error e in a row then reaches the model only as
// e W, so what matters is e^T G e with G = W W^T, not |e|^2: directions the
// weight ignores cost nothing. With several paths the G add up.
type Readout struct {
	// Factor is F, row-major [D, Rank], with G = F F^T: the readout weights
	// side by side, each scaled by what the path multiplied the rows by.
	// Rank is usually far below D, which keeps learning in G cheap.
	Factor []float64
	Rank   int
	// Paths describes each path, e.g. "node_embedding -> ReduceMean
	// node_mean -> Gemm node_linear (fc1.weight)".
	Paths []string
}

// FindReadout returns the table's readout, or nil and the reason when some
// path from an embedding Gather reaches anything else first (a non-linear
// operator, a graph output, a subgraph), or the table has other readers
// (a tied projection reads every direction).
func FindReadout(m *model.Model, tb *Table) (*Readout, string, error) {
	if q := tb.Quantized; q != nil && q.Unsupported == "" {
		return loweredReadout(m, tb)
	}
	if len(tb.OtherUses) > 0 || len(tb.Copies) > 0 {
		return nil, "the table has readers besides embedding Gathers", nil
	}
	if tb.Graph != "main" {
		return nil, "the table is read inside a subgraph", nil
	}
	w := newReadoutWalk(m, int(tb.Shape[1]))
	var queue []readoutItem
	for _, ref := range tb.Gathers {
		if ref.Graph != "main" {
			return nil, "an embedding Gather is inside a subgraph", nil
		}
		n := ref.node
		lead, ok := w.ranks[n.Input[1]]
		if !ok {
			lead = -1
		}
		queue = append(queue, readoutItem{n.Output[0], 1, w.label(n), lead})
	}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 10000 {
			return nil, "the paths from the Gathers are too many to follow", nil
		}
		it := queue[0]
		queue = queue[1:]
		if w.outputs[it.value] {
			return nil, fmt.Sprintf("%s is a graph output", it.value), nil
		}
		for _, n := range w.consumers[it.value] {
			next, why, err := w.step(it, n)
			if why != "" || err != nil {
				return nil, why, err
			}
			queue = append(queue, next...)
		}
	}
	if len(w.ro.Paths) == 0 {
		return nil, "no path from the Gathers reaches a MatMul or Gemm", nil
	}
	return w.ro, "", nil
}

// readoutItem is a value that carries a table's rows: scale is the factor
// an error has picked up on the way, lead how many axes precede the
// embedding axis (-1: unknown).
type readoutItem struct {
	value string
	scale float64
	path  string
	lead  int
}

// readoutWalk is what FindReadout knows of the main graph while it follows
// the rows.
type readoutWalk struct {
	m         *model.Model
	g         *onnxpb.GraphProto
	d         int
	consumers map[string][]*onnxpb.NodeProto
	outputs   map[string]bool
	inits     map[string]*onnxpb.TensorProto
	ranks     map[string]int   // of graph inputs with a declared shape
	lastDims  map[string]int64 // their last dimension, where it is a number
	producer  map[string]*onnxpb.NodeProto
	index     map[*onnxpb.NodeProto]int
	ro        *Readout
}

func newReadoutWalk(m *model.Model, d int) *readoutWalk {
	g := m.Proto.Graph
	w := &readoutWalk{m: m, g: g, d: d, consumers: map[string][]*onnxpb.NodeProto{}, outputs: map[string]bool{},
		inits: map[string]*onnxpb.TensorProto{}, ranks: map[string]int{}, lastDims: map[string]int64{},
		producer: map[string]*onnxpb.NodeProto{}, index: map[*onnxpb.NodeProto]int{}, ro: &Readout{}}
	for i, n := range g.Node {
		w.index[n] = i
		for _, o := range n.Output {
			w.producer[o] = n
		}
		for _, in := range n.Input {
			w.consumers[in] = append(w.consumers[in], n)
		}
	}
	for _, o := range g.Output {
		w.outputs[o.Name] = true
	}
	for _, t := range g.Initializer {
		w.inits[t.Name] = t
	}
	for _, in := range g.Input {
		if tt := in.GetType().GetTensorType(); tt != nil && tt.Shape != nil {
			w.ranks[in.Name] = len(tt.Shape.Dim)
			if r := len(tt.Shape.Dim); r > 0 {
				if d, ok := tt.Shape.Dim[r-1].Value.(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
					w.lastDims[in.Name] = d.DimValue
				}
			}
		}
	}
	return w
}

func (w *readoutWalk) label(n *onnxpb.NodeProto) string { return model.NodeLabel(n, w.index[n]) }

// step follows the rows in it through node n: the values that carry them
// on, or why the readout is not linear (or an error reading a weight).
// A MatMul or Gemm with a constant weight ends the path and adds to w.ro.
func (w *readoutWalk) step(it readoutItem, n *onnxpb.NodeProto) ([]readoutItem, string, error) {
	where := fmt.Sprintf("%s %s", n.OpType, w.label(n))
	if !model.IsStd(n) || len(n.Output) != 1 {
		return nil, "rows reach " + where, nil
	}
	next := it.path + " -> " + where
	pass := func(scale float64, lead int) ([]readoutItem, string, error) {
		return []readoutItem{{n.Output[0], scale, next, lead}}, "", nil
	}
	switch n.OpType {
	case "Identity", "Dropout":
		return pass(it.scale, it.lead)
	case "Cast":
		if !isFloatType(model.DataType(attrInt(n, "to", 0))) {
			return nil, where + " casts the rows to a type that is not float", nil
		}
		return pass(it.scale, it.lead)
	case "ReduceMean", "ReduceSum":
		lead, ok := reduceTokens(n, w.constant, it.lead)
		if !ok {
			return nil, fmt.Sprintf("%s may reduce over the embedding axis", where), nil
		}
		return pass(it.scale, lead)
	case "Add", "Sub":
		// An added vector (a position embedding, a bias) passes an error on
		// unchanged; only one side may carry the table.
		if n.Input[0] == n.Input[1] {
			return nil, where + " adds the rows to themselves", nil
		}
		return pass(it.scale, -1) // broadcasting may add leading axes
	case "Mul", "Div":
		other := n.Input[1]
		if other == it.value {
			other = n.Input[0]
			if n.OpType == "Div" {
				return nil, where + " divides by the rows", nil
			}
		}
		c, ok := scalarConst(w.m, w.constant(other))
		if !ok && w.constant(other) == nil && w.rowScale(other, 0) {
			// A mask or a token count: each row scaled as a whole, by a
			// value the data decides; the metric's shape stays W W^T.
			return []readoutItem{{n.Output[0], it.scale, next + " (by a per-row value)", it.lead}}, "", nil
		}
		if !ok || c == 0 {
			return nil, where + " scales the rows by something other than a constant or a per-row value", nil
		}
		if n.OpType == "Div" {
			c = 1 / c
		}
		return pass(it.scale*c, it.lead)
	case "Gather", "Slice":
		lead, why := w.tokenSelect(it, n, where)
		if why != "" {
			return nil, why, nil
		}
		return pass(it.scale, lead)
	case "MatMul", "Gemm":
		wt, name, err := readoutWeight(w.m, n, it.value, w.inits, w.d)
		if err != nil {
			return nil, "", err
		}
		if wt == nil {
			return nil, "rows reach " + where + " other than as its left operand with a constant weight", nil
		}
		w.ro.addColumns(wt, w.d, math.Abs(it.scale)*gemmAlpha(n))
		w.ro.Paths = append(w.ro.Paths, fmt.Sprintf("%s (%s)", next, name))
		return nil, "", nil
	}
	return nil, "rows reach " + where, nil
}

// reduceTokens checks that a ReduceMean/ReduceSum has constant axes, none
// of them the embedding axis (the last): a negative axis other than -1, or
// a non-negative one below lead, the number of axes before it. It returns
// the number of axes before the embedding axis in its output.
func reduceTokens(n *onnxpb.NodeProto, lookup func(string) *onnxpb.TensorProto, lead int) (int, bool) {
	axes, ok := reducerAxes(n, lookup)
	if !ok {
		return 0, false
	}
	for _, a := range axes {
		if a == -1 || a >= 0 && (lead < 0 || a >= int64(lead)) {
			return 0, false
		}
	}
	if attrInt(n, "keepdims", 1) != 0 || lead < 0 {
		return lead, true
	}
	return lead - len(axes), true
}

// reducerAxes reads a ReduceSum/ReduceMean's axes from its attribute or
// its second input, which must be an inline int64 constant that lookup
// finds. It fails for no axes: that reduces every axis, or none.
func reducerAxes(n *onnxpb.NodeProto, lookup func(name string) *onnxpb.TensorProto) ([]int64, bool) {
	var axes []int64
	for _, a := range n.Attribute {
		if a.Name == "axes" {
			axes = a.Ints
		}
	}
	if len(n.Input) > 1 && n.Input[1] != "" {
		t := lookup(n.Input[1])
		if t == nil || model.DataType(t.DataType) != model.Int64 {
			return nil, false
		}
		b, err := model.InlineBytes(t)
		if err != nil || len(b)%8 != 0 {
			return nil, false
		}
		for i := 0; i < len(b); i += 8 {
			axes = append(axes, int64(binary.LittleEndian.Uint64(b[i:])))
		}
	}
	return axes, len(axes) > 0
}

// scalarConst reads a one-element float constant.
func scalarConst(m *model.Model, t *onnxpb.TensorProto) (float64, bool) {
	if t == nil {
		return 0, false
	}
	if n, err := model.NumElements(t.Dims); err != nil || n != 1 || !isFloatType(model.DataType(t.DataType)) {
		return 0, false
	}
	if model.DataType(t.DataType) == model.Float64 {
		// Read as float64: a scale such as 1e-300 is 0 in float32.
		if len(t.DoubleData) == 1 {
			return t.DoubleData[0], true
		}
		b, err := m.TensorBytes(t)
		if err != nil || len(b) != 8 {
			return 0, false
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), true
	}
	v, err := m.Float32Values(t)
	if err != nil || len(v) != 1 {
		return 0, false
	}
	return float64(v[0]), true
}

// gemmAlpha is |alpha| of a Gemm (1 for a MatMul or no alpha).
func gemmAlpha(n *onnxpb.NodeProto) float64 {
	if n.OpType != "Gemm" {
		return 1
	}
	for _, a := range n.Attribute {
		if a.Name == "alpha" {
			return math.Abs(float64(a.F))
		}
	}
	return 1
}

// readoutWeight returns W as [D, H] row-major when the rows are the left
// operand of n and its right operand is a constant initializer.
func readoutWeight(m *model.Model, n *onnxpb.NodeProto, value string, inits map[string]*onnxpb.TensorProto, d int) ([]float64, string, error) {
	if len(n.Input) < 2 || n.Input[0] != value || n.Input[1] == value {
		return nil, "", nil
	}
	if n.OpType == "Gemm" && attrInt(n, "transA", 0) != 0 {
		return nil, "", nil
	}
	t := inits[n.Input[1]]
	if t == nil || len(t.Dims) != 2 || !isFloatType(model.DataType(t.DataType)) {
		return nil, "", nil
	}
	v, err := m.Float32Values(t)
	if err != nil {
		return nil, "", err
	}
	rows, cols := int(t.Dims[0]), int(t.Dims[1])
	transB := n.OpType == "Gemm" && attrInt(n, "transB", 0) != 0
	w := make([]float64, 0, len(v))
	switch {
	case !transB && rows == d:
		for _, x := range v {
			w = append(w, float64(x))
		}
		return w, t.Name, nil
	case transB && cols == d:
		// Stored [H, D]: transpose to [D, H].
		for i := 0; i < d; i++ {
			for h := 0; h < rows; h++ {
				w = append(w, float64(v[h*cols+i]))
			}
		}
		return w, t.Name, nil
	}
	return nil, "", nil
}

// addColumns appends s * W ([D, H]) to the factor's columns.
func (r *Readout) addColumns(w []float64, d int, s float64) {
	h := len(w) / d
	f := make([]float64, d*(r.Rank+h))
	for i := 0; i < d; i++ {
		copy(f[i*(r.Rank+h):], r.Factor[i*r.Rank:(i+1)*r.Rank])
		for k := 0; k < h; k++ {
			f[i*(r.Rank+h)+r.Rank+k] = s * w[i*h+k]
		}
	}
	r.Factor, r.Rank = f, r.Rank+h
}

// String summarises a readout for people.
func (r *Readout) String() string {
	var tr float64 // trace of G: the sum of squares of F
	for _, v := range r.Factor {
		tr += v * v
	}
	return fmt.Sprintf("%s (rank <= %d, trace %.3g)", strings.Join(r.Paths, "; "), r.Rank, tr)
}
