package onnxrewrite_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// A table passed to a model-local function whose body Gathers it (torch's
// export_modules_as_functions) is found with the call as Via, and its ids
// are the call's argument, a graph input; a body that computes the ids
// itself makes a site whose error says so.
func TestTablesInFunction(t *testing.T) {
	cases := []struct {
		name    string
		edit    func(mp *onnxpb.ModelProto)
		wantIDs string
		wantErr string
		unread  []string
	}{
		{"exported", nil, "ids", "", []string{"weight"}},
		// A body that refers to the attribute reads it: it stays.
		{"attribute read", func(mp *onnxpb.ModelProto) {
			g := mp.Functions[0].Node[0]
			g.Attribute = append(g.Attribute, &onnxpb.AttributeProto{Name: "unused_here", RefAttrName: "weight", Type: onnxpb.AttributeProto_TENSOR})
		}, "ids", "", nil},
		{"ids computed in the body", func(mp *onnxpb.ModelProto) {
			f := mp.Functions[0]
			g := f.Node[0]
			f.Node = append([]*onnxpb.NodeProto{{OpType: "Identity", Input: []string{g.Input[1]}, Output: []string{"inner_ids"}}}, f.Node...)
			g.Input[1] = "inner_ids"
		}, "", "computed inside function torch.nn.modules.sparse.Embedding", []string{"weight"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := testkit.Load(t, fixtures.ZooPath(testkit.RepoRoot(t), "fn_embedding"))
			if c.edit != nil {
				c.edit(m.Proto)
				path := filepath.Join(t.TempDir(), "edited.onnx")
				testkit.WriteModel(t, path, m.Proto)
				m = testkit.Load(t, path)
			}
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Tables) != 1 {
				t.Fatalf("tables %+v, want emb.weight", inv.Tables)
			}
			tb := inv.Tables[0]
			if tb.Name != "emb.weight" || tb.Via == nil || tb.Via.OpType != "Embedding" || tb.Via.Graph != "main" ||
				len(tb.Gathers) != 1 || !strings.Contains(tb.Gathers[0].Graph, "function torch.nn.modules.sparse.Embedding") {
				t.Fatalf("table %+v via %+v, want emb.weight via the Embedding call, its Gather in the function", tb, tb.Via)
			}
			if !slices.Equal(tb.UnreadAttrs, c.unread) {
				t.Errorf("unread attributes %q, want %q", tb.UnreadAttrs, c.unread)
			}
			sites, err := onnxrewrite.IDSites(m, inv, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(sites) != 1 {
				t.Fatalf("%d sites, want 1", len(sites))
			}
			s := sites[0]
			if s.IDs != c.wantIDs || (c.wantErr == "") != (s.Err == nil) || (s.Err != nil && !strings.Contains(s.Err.Error(), c.wantErr)) {
				t.Errorf("site ids %q, error %v; want ids %q, error containing %q", s.IDs, s.Err, c.wantIDs, c.wantErr)
			}
		})
	}
}

// The decode rewrite of a table read by a function call drops the copy
// torch 1.13 leaves in the call's attribute, which the function never
// reads, and counts its bytes as the table's.
func TestFunctionCallDropsUnreadCopy(t *testing.T) {
	m := testkit.Load(t, fixtures.ZooPath(testkit.RepoRoot(t), "fn_embedding"))
	cd, b := testkit.Codes(30522, 2, 16, 16, 1, 0)
	rep, err := onnxrewrite.RewriteTable(m, cd, b, onnxrewrite.RewriteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Layout != onnxrewrite.LayoutDecode || rep.TableBytes != 2*30522*16*4 ||
		!slices.ContainsFunc(rep.Notes, func(n string) bool { return strings.Contains(n, `dropped attribute "weight"`) }) {
		t.Errorf("layout %s, table bytes %d, notes %q; want decode, both copies' bytes, a note", rep.Layout, rep.TableBytes, rep.Notes)
	}
	for _, n := range m.Proto.Graph.Node {
		for _, a := range n.Attribute {
			if a.T != nil && len(a.T.Dims) == 2 && a.T.Dims[0] == 30522 {
				t.Errorf("node %s keeps attribute %s [30522, 16]", n.Name, a.Name)
			}
		}
	}
	if err := model.CheckDataflow(m); err != nil {
		t.Error(err)
	}
}
