package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// CheckIDTypes refuses a table whose Gather reads ids that a graph input
// or an initializer declares with a type other than int32 or int64: ONNX
// Runtime refuses such a model, so no rewrite of it could load. It names
// the Gather and the ids.
func (tb *Table) CheckIDTypes() error {
	for _, ref := range tb.Gathers {
		ids, gc0 := ref.indices()
		if ids == "" || (ref.read != nil && ref.read.positionsOf != "") {
			continue
		}
		for gc := gc0; gc != nil; gc = gc.parent {
			dt, ok := declaredType(gc.g, ids)
			if !ok {
				continue
			}
			if dt != model.Int32 && dt != model.Int64 {
				return fmt.Errorf("table %q: %s %q reads ids %q of type %s; Gather indices must be int32 or int64", tb.Name, ref.OpType, ref.Node, ids, model.DTypeName(dt))
			}
			break
		}
	}
	return nil
}

// declaredType is the element type g's inputs or initializers give name.
func declaredType(g *onnxpb.GraphProto, name string) (model.DataType, bool) {
	for _, t := range g.Initializer {
		if t.Name == name {
			return model.DataType(t.DataType), true
		}
	}
	for _, v := range g.Input {
		if v.Name == name {
			if tt := v.GetType().GetTensorType(); tt != nil {
				return model.DataType(tt.ElemType), true
			}
		}
	}
	return 0, false
}

// rewritableTable is the named table (the largest for ""), when a rewrite
// can take it: not quantized, and read with integer ids.
func rewritableTable(m *model.Model, inv *Inventory, name string) (*Table, error) {
	tb, err := inv.Table(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := tb.Rewritable(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := tb.CheckIDTypes(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	return tb, nil
}
