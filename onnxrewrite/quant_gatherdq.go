package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// gatherDQForm is ORT quantize_dynamic's quantized Gather:
// Gather(values, ids) -> DequantizeLinear(rows, scale, zero point), with
// one scale, one per column (axis -1), or (opset 21) scales gathered with
// the same ids, Gather(scale [V, blocks], ids), blocked along the row.
type gatherDQForm struct{}

func (gatherDQForm) match(x *qctx, n *onnxpb.NodeProto, i int) *qsite {
	if !isEmbeddingGather(n, 0) || len(n.Output) != 1 {
		return nil
	}
	vals := x.constant(n.Input[0])
	bits, signed, ok := intValues(vals)
	if !ok {
		return nil
	}
	dq, di := x.one(n.Output[0])
	if dq == nil || !model.IsStd(dq) || dq.OpType != "DequantizeLinear" || len(dq.Input) < 2 || dq.Input[0] != n.Output[0] || len(dq.Output) != 1 {
		return nil
	}
	s := &qsite{form: "gather-dequantize", op: "DequantizeLinear", gc: x.gc, ids: n.Input[1], out: dq.Output[0],
		nodes: []*onnxpb.NodeProto{n, dq}, deq: x.ref(dq, di), gathers: []NodeRef{x.ref(n, i)}}
	s.lay = qlayout{values: vals, rows: vals.tensor.Dims[0], cols: vals.tensor.Dims[1], bits: bits, signed: signed}
	if g := gatheredParam(x, dq.Input[1], n.Input[1]); g != nil {
		s.unsupported = gatheredLayout(x, dq, &s.lay, s)
		return s
	}
	s.unsupported = dqLayout(x, dq, &s.lay, true)
	return s
}

// gatheredParam returns the Gather that reads value v from a constant with
// the same ids, as its only use, or nil.
func gatheredParam(x *qctx, v, ids string) *onnxpb.NodeProto {
	for _, n := range x.gc.g.Node {
		if len(n.Output) == 1 && n.Output[0] == v {
			if isEmbeddingGather(n, 0) && n.Input[1] == ids && x.constant(n.Input[0]) != nil && len(x.consumers[v]) == 1 && !x.outputs[v] {
				return n
			}
			return nil
		}
	}
	return nil
}

// gatheredLayout reads DequantizeLinear dq whose scale (and zero point)
// are gathered with the ids: blocked along the last axis, scale [V, blocks].
func gatheredLayout(x *qctx, dq *onnxpb.NodeProto, lay *qlayout, s *qsite) string {
	ids := s.ids
	sg := gatheredParam(x, dq.Input[1], ids)
	scale := x.constant(sg.Input[0])
	lay.scale, lay.out = scale, model.DataType(scale.tensor.DataType)
	s.nodes = append(s.nodes, sg)
	if len(dq.Input) > 2 && dq.Input[2] != "" {
		zg := gatheredParam(x, dq.Input[2], ids)
		if zg == nil {
			return fmt.Sprintf("zero point %q is not gathered with the ids as the scale is", dq.Input[2])
		}
		lay.zp = x.constant(zg.Input[0])
		s.nodes = append(s.nodes, zg)
	}
	dims, block, axis := scale.tensor.Dims, attrInt(dq, "block_size", 0), attrInt(dq, "axis", 1)
	if block <= 0 || axis != -1 || len(dims) != 2 || dims[0] != lay.rows || dims[1] != (lay.cols+block-1)/block {
		return fmt.Sprintf("gathered scale %q %v with axis %d, block_size %d: want [%d, blocks] blocked along axis -1", scale.tensor.Name, dims, axis, block, lay.rows)
	}
	if !isFloatType(lay.out) {
		return fmt.Sprintf("scale %q is %s", scale.tensor.Name, model.DTypeName(lay.out))
	}
	if lay.zp != nil && !sameDims(lay.zp.tensor.Dims, dims) {
		return fmt.Sprintf("zero point %q %v does not match scale %v", lay.zp.tensor.Name, lay.zp.tensor.Dims, dims)
	}
	lay.block = block
	if block >= lay.cols {
		lay.block, lay.axis = 0, 0 // one scale a row
	}
	return ""
}

func sameDims(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
