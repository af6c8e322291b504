package model_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

func TestPruneValueInfo(t *testing.T) {
	f32, i64 := onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT64
	cases := []struct {
		name    string
		entries []*onnxpb.ValueInfoProto
		kept    []string
		dropped []string // substrings of the lines, one per dropped entry
	}{
		{"described values kept", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("out", f32, "n", 4), fixtures.TensorInfo("emb", f32, 10, 4)},
			[]string{"out", "emb"}, nil},
		{"unknown dims kept", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("emb", f32, "v", "d")}, []string{"emb"}, nil},
		{"removed table", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("embedding.weight", f32, 10, 4), fixtures.TensorInfo("out", f32, "n", 4)},
			[]string{"out"}, []string{`graph main: value_info "embedding.weight" dropped: nothing defines it`}},
		{"initializer of another type", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("emb", i64, 10, 4)},
			nil, []string{`"emb" dropped: it declares int64, and the initializer is float32`}},
		{"initializer of another rank", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("emb", f32, 40)},
			nil, []string{"declares rank 1, and the initializer has shape [10 4]"}},
		{"initializer of another size", []*onnxpb.ValueInfoProto{fixtures.TensorInfo("emb", f32, 10, 8)},
			nil, []string{"declares dimension 1 as 8"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mp := testkit.GatherModel(13, 10, 4)
			mp.Graph.ValueInfo = c.entries
			m := &model.Model{Proto: mp}
			got := m.PruneValueInfo()
			var kept []string
			for _, v := range mp.Graph.ValueInfo {
				kept = append(kept, v.Name)
			}
			if !slices.Equal(kept, c.kept) {
				t.Errorf("kept %q, want %q", kept, c.kept)
			}
			if len(got) != len(c.dropped) {
				t.Fatalf("dropped %q, want %d lines", got, len(c.dropped))
			}
			for i, want := range c.dropped {
				if !strings.Contains(got[i], want) {
					t.Errorf("line %q, want it to say %q", got[i], want)
				}
			}
		})
	}
}

// A subgraph's value_info may describe a value of the enclosing graph; one
// that names nothing in either is dropped, naming the subgraph.
func TestPruneValueInfoSubgraph(t *testing.T) {
	mp := testkit.GatherModel(13, 10, 4)
	body := &onnxpb.GraphProto{
		Name:      "then",
		Node:      []*onnxpb.NodeProto{{OpType: "Identity", Input: []string{"out"}, Output: []string{"y"}}},
		Output:    []*onnxpb.ValueInfoProto{fixtures.TensorInfo("y", onnxpb.TensorProto_FLOAT, "n", 4)},
		ValueInfo: []*onnxpb.ValueInfoProto{fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT, "n", 4), fixtures.TensorInfo("gone", onnxpb.TensorProto_FLOAT, 3)},
	}
	mp.Graph.Input = append(mp.Graph.Input, fixtures.TensorInfo("c", onnxpb.TensorProto_BOOL))
	mp.Graph.Node = append(mp.Graph.Node, &onnxpb.NodeProto{Name: "branch", OpType: "If", Input: []string{"c"}, Output: []string{"z"},
		Attribute: []*onnxpb.AttributeProto{{Name: "then_branch", Type: onnxpb.AttributeProto_GRAPH, G: body}, {Name: "else_branch", Type: onnxpb.AttributeProto_GRAPH, G: body}}})
	got := (&model.Model{Proto: mp}).PruneValueInfo()
	if len(got) != 1 || !strings.Contains(got[0], `graph main/branch.then_branch: value_info "gone" dropped`) {
		t.Fatalf("dropped %q, want the then branch's \"gone\" only (the else branch is the same graph, already pruned)", got)
	}
	if len(body.ValueInfo) != 1 || body.ValueInfo[0].Name != "out" {
		t.Errorf("subgraph value_info %v, want the outer value \"out\" kept", body.ValueInfo)
	}
}
