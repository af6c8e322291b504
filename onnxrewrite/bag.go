package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// The bag form of the lookup (see the rules in rewrite.go): when the only
// reader of an embedding Gather is a ReduceSum or ReduceMean over axes of
// the ids (a bag of embeddings, as in fastText-like classifiers), the rows
// need not be rebuilt one token at a time. The reduction of the rows is the
// count of each codebook row over the bag times the codebook:
//
//	counts = ScatterElements(zeros[bags, M*K], code columns[bags, n*M], ones, reduction=add)
//	out    = MatMul(counts, codebook)            (divided by n for a mean)
//
// which reads M small integers per token instead of Q vectors of D values.

// bagMaxColumns caps M*K for the bag form: each bag then holds M*K counts
// and multiplies them by the codebook, which only pays for small books.
const bagMaxColumns = 4096

// bagPlan is how one Gather and its reducer become a bag.
type bagPlan struct {
	reduce   *onnxpb.NodeProto
	mean     bool
	keepdims bool
	k        int     // reduced axes of the ids, all moved last
	perm     []int64 // transposes the ids so the reduced axes come last; nil if they do
	unsq     []int64 // where keepdims puts the reduced axes back in the output
}

// planBag says whether Gather node g of graph gc (an embedding Gather of
// the table) can take the bag form. When its rows are pooled but the form
// cannot be used, the reason says why, for the report.
func (e *emitter) planBag(gc *graphCtx, g *onnxpb.NodeProto) (plan *bagPlan, reason string) {
	out := g.Output[0]
	if out == "" {
		return nil, "" // "" marks omitted inputs: no reader to find
	}
	var reader *onnxpb.NodeProto
	for _, n := range gc.g.Node {
		for i, in := range n.Input {
			if in != out {
				continue
			}
			if reader != nil || i != 0 {
				return nil, ""
			}
			reader = n
		}
		if usedInSubgraphs(n, out) {
			return nil, ""
		}
	}
	for _, o := range gc.g.Output {
		if o.Name == out {
			return nil, ""
		}
	}
	if reader == nil || !model.IsStd(reader) || reader.OpType != "ReduceMean" && reader.OpType != "ReduceSum" {
		return nil, ""
	}
	where := fmt.Sprintf("%s pools the rows of %s", reader.OpType, nodeLabelOf(gc.g, g))
	switch {
	case e.noBag:
		return nil, where + ": bag form turned off"
	case e.opset < 16:
		return nil, where + fmt.Sprintf(": per-token lookup, the bag form needs ScatterElements with reduction (opset 16; the model has %d)", e.opset)
	case e.dt != model.Float32 && e.dt != model.Float64:
		return nil, where + fmt.Sprintf(": per-token lookup, the bag form is for float32 and float64 tables (this one is %s)", model.DTypeName(e.dt))
	case e.c.M*e.c.K > bagMaxColumns:
		return nil, where + fmt.Sprintf(": per-token lookup, M*K = %d is over the bag form's %d", e.c.M*e.c.K, bagMaxColumns)
	}
	axes, ok := reducerAxes(reader, func(name string) *onnxpb.TensorProto {
		if d, _ := gc.resolve(name); d != nil {
			return d.tensor
		}
		return nil
	})
	if !ok {
		return nil, where + ": per-token lookup, its axes are not a constant list of id axes"
	}
	rank, known := valueRank(gc, g.Input[1])
	plan = &bagPlan{reduce: reader, mean: reader.OpType == "ReduceMean", keepdims: attrInt(reader, "keepdims", 1) != 0, k: len(axes)}
	if !known {
		// Without the ids' rank only trailing id axes given from the end
		// (-2, -3, ...) are certain to be id axes.
		neg := slices.Clone(axes)
		slices.Sort(neg)
		for i, a := range neg {
			if a != -int64(len(neg))-1+int64(i) {
				return nil, where + ": per-token lookup, the ids' rank is unknown and the axes are not the last id axes counted from the end"
			}
		}
		plan.unsq = neg
		return plan, ""
	}
	red := make([]int64, 0, len(axes))
	for _, a := range axes {
		if a < 0 {
			a += int64(rank) + 1
		}
		if a < 0 || a >= int64(rank) || slices.Contains(red, a) {
			return nil, where + ": per-token lookup, its axes are not distinct id axes"
		}
		red = append(red, a)
	}
	slices.Sort(red)
	plan.unsq = red
	if red[0] != int64(rank-len(red)) || red[len(red)-1] != int64(rank-1) {
		for a := 0; a < rank; a++ {
			if !slices.Contains(red, int64(a)) {
				plan.perm = append(plan.perm, int64(a))
			}
		}
		plan.perm = append(plan.perm, red...)
	}
	return plan, ""
}

// usedInSubgraphs says whether a graph attribute of n, at any depth, reads
// the outer value name.
func usedInSubgraphs(n *onnxpb.NodeProto, name string) bool {
	used := false
	model.SubgraphReads(n, func(s string) { used = used || s == name })
	return used
}

// valueRank finds the declared rank of a value in scope: an initializer's,
// or a graph input's, value_info's or output's with a shape.
func valueRank(gc *graphCtx, name string) (int, bool) {
	for s := gc; s != nil; s = s.parent {
		if d := s.defs[name]; d != nil {
			return len(d.tensor.Dims), true
		}
		for _, vs := range [][]*onnxpb.ValueInfoProto{s.g.Input, s.g.ValueInfo, s.g.Output} {
			for _, v := range vs {
				if v.Name != name {
					continue
				}
				if tt := v.GetType().GetTensorType(); tt != nil && tt.Shape != nil {
					return len(tt.Shape.Dim), true
				}
			}
		}
		if _, ok := s.defs[name]; ok {
			return 0, false
		}
	}
	return 0, false
}

// emitBag appends the bag form of Gather(table, ids) pooled by plan.reduce,
// writing the reducer's output.
func (e *emitter) emitBag(list *[]*onnxpb.NodeProto, label, ids string, plan *bagPlan) {
	c, q := e.c, e.q()
	out := plan.reduce.Output[0]
	base := out + ".bag"
	if plan.perm != nil {
		ids = e.node(list, label, "Transpose", []string{ids}, base+"_ids", intsAttr("perm", plan.perm))
	}
	k := int64(plan.k)
	shape := e.node(list, label, "Shape", []string{ids}, base+"_ids_shape")
	kept := e.node(list, label, "Slice", []string{shape, e.i64s(0), e.i64s(-k)}, base+"_dims")
	n := e.node(list, label, "Slice", []string{shape, e.i64s(-k), e.i64s(math.MaxInt64)}, base+"_token_dims")
	// allowzero: a 0 in these shapes is an empty dimension, not "copy".
	zero := intAttr("allowzero", 1)
	tokens := ids
	if k > 1 {
		n = e.node(list, label, "ReduceProd", []string{n}, base+"_tokens", intAttr("keepdims", 1))
		tokens = e.node(list, label, "Reshape", []string{ids, e.node(list, label, "Concat", []string{kept, n}, base+"_ids_2d", intAttr("axis", 0))},
			base+"_token_ids", zero)
	}
	codes := e.node(list, label, "Gather", []string{e.codes.Name, tokens}, base+"_codes", intAttr("axis", 0))
	cols := e.node(list, label, "Cast", []string{codes}, base+"_code_values", intAttr("to", int64(model.Int32)))
	width := q
	if e.p > 1 {
		if e.nib32 == "" {
			e.nib32 = e.node(&e.head, e.tb.Name+"/embshrink", "Cast", []string{e.nibbles()}, e.tb.Name+".code_nibbles_i32", intAttr("to", int64(model.Int32)))
		}
		cols = e.node(list, label, "Gather", []string{e.nib32, cols}, base+"_unpacked", intAttr("axis", 0))
		width = q * e.p
	}
	cols = e.node(list, label, "Add", []string{cols, e.columnOffsets()}, base+"_columns")
	perBag := e.node(list, label, "Mul", []string{n, e.i64s(int64(width))}, base+"_codes_per_bag")
	flat := e.node(list, label, "Reshape", []string{cols, e.node(list, label, "Concat", []string{kept, perBag}, base+"_columns_shape", intAttr("axis", 0))},
		base+"_bag_columns", zero)
	ones := e.node(list, label, "ConstantOfShape", []string{e.node(list, label, "Shape", []string{flat}, base+"_columns_dims")}, base+"_ones", e.fill(1))
	countsShape := e.node(list, label, "Concat", []string{kept, e.i64s(int64(width * c.K))}, base+"_counts_shape", intAttr("axis", 0))
	zeros := e.node(list, label, "ConstantOfShape", []string{countsShape}, base+"_zeros", e.fill(0))
	counts := e.node(list, label, "ScatterElements", []string{zeros, flat, ones}, base+"_counts", intAttr("axis", -1),
		&onnxpb.AttributeProto{Name: "reduction", Type: onnxpb.AttributeProto_STRING, S: []byte("add")})
	if width*c.K > c.M*c.K {
		// Padding groups of the last byte count into columns past the book.
		counts = e.node(list, label, "Slice", []string{counts, e.i64s(0), e.i64s(int64(c.M * c.K)), e.i64s(-1)}, base+"_book_counts")
	}
	// MatMul, then Div for a mean, then Unsqueeze for keepdims: the last
	// of them writes the reducer's output.
	pooled := out // before Unsqueeze
	if plan.keepdims {
		pooled = e.names.Fresh(base + "_pooled")
	}
	sum := pooled // before Div
	if plan.mean {
		sum = e.names.Fresh(base + "_sum")
	}
	book, _ := e.bookSrc()
	e.nodeTo(list, label, "MatMul", []string{counts, book}, sum)
	if plan.mean {
		tokens := e.node(list, label, "Cast", []string{n}, base+"_tokens_f", intAttr("to", int64(e.dt)))
		e.nodeTo(list, label, "Div", []string{sum, tokens}, pooled)
	}
	if plan.keepdims {
		e.nodeTo(list, label, "Unsqueeze", []string{pooled, e.i64s(plan.unsq...)}, out)
	}
}

// columnOffsets is the int32 [Q, P] (or [M]) initializer of each code's
// first column in the counts: (j*P + p) * K.
func (e *emitter) columnOffsets() string {
	if e.colOffsets != "" {
		return e.colOffsets
	}
	q, p := e.q(), e.p
	dims := []int64{int64(q), int64(p)}
	if p == 1 {
		q, p, dims = e.c.M, 1, []int64{int64(e.c.M)}
	}
	raw := make([]byte, 4*q*p)
	for i := 0; i < q*p; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(i*e.c.K))
	}
	e.colOffsets = e.init("bag_columns", model.Int32, dims, raw).Name
	return e.colOffsets
}

// i64s returns an int64 initializer holding v, one per distinct value.
func (e *emitter) i64s(v ...int64) string {
	key := fmt.Sprint(v)
	if name, ok := e.consts[key]; ok {
		return name
	}
	if e.consts == nil {
		e.consts = map[string]string{}
	}
	name := e.init("i64", model.Int64, []int64{int64(len(v))}, int64Raw(v...)).Name
	e.consts[key] = name
	return name
}

// fill is ConstantOfShape's value attribute: one element of the table's
// type.
func (e *emitter) fill(v float32) *onnxpb.AttributeProto {
	raw, _ := model.EncodeFloats([]float32{v}, e.dt)
	return &onnxpb.AttributeProto{Name: "value", Type: onnxpb.AttributeProto_TENSOR,
		T: &onnxpb.TensorProto{Dims: []int64{1}, DataType: int32(e.dt), RawData: raw}}
}

func intsAttr(name string, v []int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: v}
}

// nodeLabelOf labels a node of g for a message; it scans g, so it is for
// one-off messages, not loops.
func nodeLabelOf(g *onnxpb.GraphProto, n *onnxpb.NodeProto) string {
	for i, x := range g.Node {
		if x == n {
			return model.NodeLabel(n, i)
		}
	}
	return n.Name
}
