package onnxrewrite

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// quantizedOps read quantized weights themselves: a tied projection of one
// keeps its weights through a rewrite.
var quantizedOps = map[string]bool{"MatMulInteger": true, "MatMulNBits": true, "QLinearMatMul": true, "QGemm": true,
	"DynamicQuantizeMatMul": true, "MatMulIntegerToFloat": true, "QLinearConv": true, "ConvInteger": true, "GatherBlockQuantized": true}

// matchQuant runs every form of quantForms over the nodes of one graph.
func matchQuant(m *model.Model, gc *graphCtx, consumers map[string][]int) []*qsite {
	x := &qctx{m: m, gc: gc, consumers: consumers, outputs: map[string]bool{}}
	for _, o := range gc.g.Output {
		x.outputs[o.Name] = true
	}
	var sites []*qsite
	for i, n := range gc.g.Node {
		for _, f := range quantForms {
			if s := f.match(x, n, i); s != nil {
				sites = append(sites, s)
				break
			}
		}
	}
	return sites
}

// quantTables groups the sites by their integer tensor into tables, and
// returns the tensors that are scales or zero points.
func quantTables(m *model.Model, sites []*qsite) ([]*Table, map[*onnxpb.TensorProto]bool, error) {
	params := map[*onnxpb.TensorProto]bool{}
	byValues := map[*onnxpb.TensorProto][]*qsite{}
	var order []*tableDef
	for _, s := range sites {
		for _, p := range []*tableDef{s.lay.scale, s.lay.zp} {
			if p != nil {
				params[p.tensor] = true
			}
		}
		t := s.lay.values.tensor
		if _, ok := byValues[t]; !ok {
			order = append(order, s.lay.values)
		}
		byValues[t] = append(byValues[t], s)
	}
	var out []*Table
	for _, d := range order {
		tb, err := quantTable(m, d, byValues[d.tensor])
		if err != nil {
			return nil, nil, err
		}
		out = append(out, tb)
	}
	return out, params, nil
}

// quantTable describes the table of one integer tensor read by sites.
func quantTable(m *model.Model, d *tableDef, sites []*qsite) (*Table, error) {
	s0 := sites[0]
	lay := &s0.lay
	tb := newTable(m, d)
	tb.Shape = [2]int64{lay.rows, lay.cols}
	tb.OtherUses, tb.Copies = []Use{}, []Copy{}
	q := &QuantInfo{Form: s0.form, Op: s0.op, Node: s0.deq, Scheme: lay.scheme(), Bits: lay.bits, Float: model.DTypeName(lay.out),
		Axis: int64(lay.axis), Block: lay.block, ValueBytes: tb.Bytes, sites: sites}
	if lay.block > 0 {
		q.Axis = 1
	}
	for _, s := range sites {
		tb.Gathers = append(tb.Gathers, s.gathers...)
		tb.OtherUses = append(tb.OtherUses, s.others...)
		switch {
		case s.unsupported != "" && q.Unsupported == "":
			q.Unsupported = s.unsupported
		case s.form != s0.form || s.unsupported == "" && s0.unsupported == "" && !sameLayout(&s.lay, lay):
			q.Unsupported = fmt.Sprintf("lookups %s and %s dequantize it differently", s0.deq.Node, s.deq.Node)
		}
	}
	if q.Unsupported == "" {
		if err := quantParams(m, q, lay); err != nil {
			return nil, err
		}
	}
	tb.Bytes += q.ParamBytes
	kept, err := keptReaders(m, d, sites)
	if err != nil {
		return nil, err
	}
	q.Kept = kept
	tb.Quantized = q
	return tb, nil
}

// quantParams fills in q's scales and zero points.
func quantParams(m *model.Model, q *QuantInfo, lay *qlayout) error {
	q.Scale = lay.scale.tensor.Name
	q.PerAxis = lay.groups() > 1
	q.ParamBytes = model.StoredBytes(lay.scale.tensor)
	if lay.groups() <= 4096 {
		v, err := m.Float32Values(lay.scale.tensor)
		if err != nil {
			return err
		}
		q.ScaleValues = v
	}
	if lay.zp == nil {
		return nil
	}
	q.ZeroPoint = lay.zp.tensor.Name
	q.ParamBytes += model.StoredBytes(lay.zp.tensor)
	if lay.groups() <= 4096 {
		zp, err := lay.zeroPoints(m)
		if err != nil {
			return fmt.Errorf("%s: %w", m.Path, err)
		}
		for _, z := range zp {
			q.ZeroPointValues = append(q.ZeroPointValues, int64(z))
		}
	}
	return nil
}

// keptReaders lists the nodes, outside the sites' chains, that read the
// integer tensor itself, and the quantized projections that read a bytewise
// copy of it.
func keptReaders(m *model.Model, d *tableDef, sites []*qsite) ([]Use, error) {
	chain := map[*onnxpb.NodeProto]bool{}
	for _, s := range sites {
		for _, n := range s.nodes {
			chain[n] = true
		}
	}
	var raw []byte
	var kept []Use
	var err error
	walkGraphs(m, func(gc *graphCtx) {
		for i, n := range gc.g.Node {
			for j, in := range n.Input {
				r, ok := gc.resolve(in)
				if !ok || r == nil || chain[n] || in == "" {
					continue
				}
				u := Use{NodeRef: NodeRef{Graph: gc.path, Node: model.NodeLabel(n, i), OpType: n.OpType, node: n, gc: gc}, Input: j, Kind: "other",
					Detail: fmt.Sprintf("%s input %d reads the quantized values", n.OpType, j)}
				if quantizedOps[n.OpType] {
					u.Kind = "quantized_projection"
				}
				if r.tensor == d.tensor {
					kept = append(kept, u)
					continue
				}
				if !quantizedOps[n.OpType] || r.tensor.DataType != d.tensor.DataType || model.StoredBytes(r.tensor) != model.StoredBytes(d.tensor) {
					continue
				}
				if raw == nil && err == nil {
					raw, err = m.TensorBytes(d.tensor)
				}
				if other, e := m.TensorBytes(r.tensor); err == nil && e == nil && bytes.Equal(raw, other) {
					u.Detail = fmt.Sprintf("%s input %d reads %q, a copy of the quantized values", n.OpType, j, r.tensor.Name)
					kept = append(kept, u)
				}
			}
		}
	})
	return kept, err
}

// gatheredBeside says whether tb, a float tensor of at most 4 columns, is
// only gathered with ids that also index a wider table of as many rows: a
// scale or zero point vector read beside a table, not a table itself.
func gatheredBeside(tb *Table, byTensor map[*onnxpb.TensorProto]*Table, quant []*Table) bool {
	if tb.Shape[1] > 4 || len(tb.Gathers) == 0 {
		return false
	}
	ids := map[string]bool{}
	add := func(t *Table) {
		if t != tb && t.Shape[1] > 4 && t.Shape[0] == tb.Shape[0] {
			for _, g := range t.Gathers {
				if v, _ := g.indices(); v != "" {
					ids[v] = true
				}
			}
		}
	}
	for _, t := range byTensor {
		add(t)
	}
	for _, t := range quant {
		add(t)
	}
	return !slices.ContainsFunc(tb.Gathers, func(g NodeRef) bool { v, _ := g.indices(); return !ids[v] })
}
