package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// qdqForm is the QDQ form: DequantizeLinear(values, scale, zero point)
// makes the whole float table, which Gathers (and maybe a tied projection)
// read. Per-tensor, per-axis (0 or 1) and, from opset 21, blocked along
// the rows (block_size) scales; 8- and 4-bit values.
type qdqForm struct{}

func (qdqForm) match(x *qctx, n *onnxpb.NodeProto, i int) *qsite {
	if !model.IsStd(n) || n.OpType != "DequantizeLinear" || len(n.Input) < 2 || len(n.Output) != 1 {
		return nil
	}
	vals := x.constant(n.Input[0])
	bits, signed, ok := intValues(vals)
	if !ok {
		return nil
	}
	td := n.Output[0]
	s := &qsite{form: "qdq", op: "DequantizeLinear", gc: x.gc, out: td, nodes: []*onnxpb.NodeProto{n}, deq: x.ref(n, i)}
	s.lay = qlayout{values: vals, rows: vals.tensor.Dims[0], cols: vals.tensor.Dims[1], bits: bits, signed: signed}
	for _, c := range x.consumers[td] {
		cn := x.gc.g.Node[c]
		for j, in := range cn.Input {
			if in != td {
				continue
			}
			ref := x.ref(cn, c)
			if isEmbeddingGather(cn, j) {
				s.gathers = append(s.gathers, ref)
			} else {
				s.others = append(s.others, describeUse(x.gc, x.consumers, ref, cn, j))
			}
		}
	}
	if len(s.gathers) == 0 {
		return nil // a dequantized weight, not a table
	}
	s.unsupported = dqLayout(x, n, &s.lay, false)
	if x.outputs[td] {
		s.unsupported = fmt.Sprintf("the dequantized table %q is a graph output", td)
	}
	return s
}

// dqLayout fills lay's scales from DequantizeLinear n reading the whole
// table, or with rows the gathered rows (whose rank is unknown here, so only
// one scale or scales along axis -1 qualify), or says why it cannot.
func dqLayout(x *qctx, n *onnxpb.NodeProto, lay *qlayout, rows bool) string {
	scale := x.constant(n.Input[1])
	if scale == nil {
		return fmt.Sprintf("scale %q is not a constant", n.Input[1])
	}
	lay.scale, lay.out, lay.axis = scale, model.DataType(scale.tensor.DataType), -1
	if len(n.Input) > 2 && n.Input[2] != "" {
		if lay.zp = x.constant(n.Input[2]); lay.zp == nil {
			return fmt.Sprintf("zero point %q is not a constant", n.Input[2])
		}
	}
	if !isFloatType(lay.out) {
		return fmt.Sprintf("scale %q is %s", scale.tensor.Name, model.DTypeName(lay.out))
	}
	dims := scale.tensor.Dims
	axis, block := attrInt(n, "axis", 1), attrInt(n, "block_size", 0)
	numel, _ := model.NumElements(dims)
	switch {
	case numel == 1 && block == 0:
	case !rows && block > 0 && len(dims) == 2 && (axis == 1 || axis == -1) && dims[0] == lay.rows && dims[1] == (lay.cols+block-1)/block:
		lay.block = block
	case block == 0 && len(dims) == 1 && dims[0] == lay.cols && (axis == -1 || axis == 1 && !rows):
		lay.axis = 1
	case !rows && block == 0 && len(dims) == 1 && dims[0] == lay.rows && (axis == 0 || axis == -2):
		lay.axis = 0
	default:
		return fmt.Sprintf("scale %q %v with axis %d and block_size %d on %s [%d, %d]", scale.tensor.Name, dims, axis, block, what(rows), lay.rows, lay.cols)
	}
	if lay.zp != nil {
		zn, _ := model.NumElements(lay.zp.tensor.Dims)
		if zn != numel {
			return fmt.Sprintf("zero point %q %v does not match scale %v", lay.zp.tensor.Name, lay.zp.tensor.Dims, dims)
		}
	}
	return ""
}

func what(rows bool) string {
	if rows {
		return "gathered rows of a table"
	}
	return "a table"
}
