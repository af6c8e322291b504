package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// perRowForm dequantizes gathered rows with float per-row scales (and
// zero points) [V, 1] gathered with the same ids, spelled out:
// Mul(Sub(Cast(Gather(values, ids)), Gather(zero_point, ids)), Gather(scale, ids)),
// the Sub optional and the Mul's operands in either order.
type perRowForm struct{}

func (perRowForm) match(x *qctx, n *onnxpb.NodeProto, i int) *qsite {
	if !isEmbeddingGather(n, 0) || len(n.Output) != 1 {
		return nil
	}
	vals := x.constant(n.Input[0])
	bits, signed, ok := intValues(vals)
	if !ok || bits != 8 {
		return nil
	}
	cast, _ := x.one(n.Output[0])
	if cast == nil || !model.IsStd(cast) || cast.OpType != "Cast" || len(cast.Output) != 1 {
		return nil
	}
	ids := n.Input[1]
	s := &qsite{form: "per-row", op: "Cast/Sub/Mul", gc: x.gc, ids: ids, nodes: []*onnxpb.NodeProto{n, cast}, gathers: []NodeRef{x.ref(n, i)}}
	s.lay = qlayout{values: vals, rows: vals.tensor.Dims[0], cols: vals.tensor.Dims[1], bits: bits, signed: signed, axis: 0,
		out: model.DataType(attrInt(cast, "to", 0))}
	cur := cast.Output[0]
	next, ni := x.one(cur)
	if next != nil && model.IsStd(next) && next.OpType == "Sub" && len(next.Input) == 2 && next.Input[0] == cur {
		zg := gatheredParam(x, next.Input[1], ids)
		if zg == nil {
			return nil
		}
		s.lay.zp = x.constant(zg.Input[0])
		s.nodes = append(s.nodes, zg, next)
		cur = next.Output[0]
		next, ni = x.one(cur)
	}
	if next == nil || !model.IsStd(next) || next.OpType != "Mul" || len(next.Input) != 2 {
		return nil
	}
	other := next.Input[1]
	if other == cur {
		other = next.Input[0]
	}
	sg := gatheredParam(x, other, ids)
	if sg == nil {
		return nil
	}
	s.lay.scale = x.constant(sg.Input[0])
	s.nodes = append(s.nodes, sg, next)
	s.out, s.deq = next.Output[0], x.ref(next, ni)
	s.unsupported = perRowCheck(&s.lay)
	return s
}

// perRowCheck says why a per-row layout cannot be read, or "".
func perRowCheck(l *qlayout) string {
	for _, p := range []*tableDef{l.scale, l.zp} {
		if p == nil {
			continue
		}
		if d := p.tensor.Dims; len(d) != 2 || d[0] != l.rows || d[1] != 1 || !isFloatType(model.DataType(p.tensor.DataType)) {
			return fmt.Sprintf("per-row parameter %q is %s %v, want float [%d, 1]", p.tensor.Name, model.DTypeName(model.DataType(p.tensor.DataType)), d, l.rows)
		}
	}
	if !isFloatType(l.out) {
		return fmt.Sprintf("the rows are cast to %s", model.DTypeName(l.out))
	}
	return ""
}
