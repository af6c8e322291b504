package onnxrewrite_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// A table read through an Identity or a Cast to a float type is found, with
// that node as Via; auto decodes it and lookup is refused. A Cast to an
// integer type makes no table.
func TestTablesReadThrough(t *testing.T) {
	cases := []struct {
		name  string
		op    string
		to    onnxpb.TensorProto_DataType
		table bool
	}{
		{"identity", "Identity", 0, true},
		{"cast to float64", "Cast", onnxpb.TensorProto_DOUBLE, true},
		{"cast to int64", "Cast", onnxpb.TensorProto_INT64, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp := testkit.GatherModel(13, 40, 4)
			via := &onnxpb.NodeProto{Name: "via", OpType: c.op, Input: []string{"emb"}, Output: []string{"emb_read"}}
			if c.op == "Cast" {
				via.Attribute = []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(c.to)}}
			}
			mp.Graph.Node[0].Input[0] = "emb_read"
			mp.Graph.Node = append([]*onnxpb.NodeProto{via}, mp.Graph.Node...)
			path := filepath.Join(t.TempDir(), "via.onnx")
			testkit.WriteModel(t, path, mp)
			m := testkit.Load(t, path)
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			if !c.table {
				if len(inv.Tables) != 0 {
					t.Fatalf("tables %+v, want none", inv.Tables)
				}
				return
			}
			if len(inv.Tables) != 1 || inv.Tables[0].Via == nil || inv.Tables[0].Via.Node != "via" || len(inv.Tables[0].Gathers) != 1 {
				t.Fatalf("tables %+v, want emb with its Gather, via node \"via\"", inv.Tables)
			}
			cd, b := testkit.Codes(40, 2, 16, 4, 1, 0)
			_, err = onnxrewrite.RewriteTable(m, cd, b, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
			if err == nil || !strings.Contains(err.Error(), "through "+c.op+" via") {
				t.Fatalf("lookup: %v, want a refusal naming the %s", err, c.op)
			}
			rep, err := onnxrewrite.RewriteTable(m, cd, b, onnxrewrite.RewriteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layout != onnxrewrite.LayoutDecode || !strings.Contains(rep.LayoutReason, c.op+" via") {
				t.Errorf("auto chose %s (%s), want decode naming the %s", rep.Layout, rep.LayoutReason, c.op)
			}
			if err := model.CheckDataflow(m); err != nil {
				t.Error(err)
			}
		})
	}
}
