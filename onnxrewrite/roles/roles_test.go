package roles_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// fixture returns the named fixture of InputRoles or All.
func fixture(t *testing.T, name string) fixtures.Fixture {
	t.Helper()
	for _, f := range append(fixtures.InputRoles(), fixtures.All()...) {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no fixture %q", name)
	return fixtures.Fixture{}
}

// detect writes the fixture, after edit changes its proto, and finds its
// roles.
func detect(t *testing.T, name string, edit func(*onnxpb.ModelProto)) *roles.Roles {
	t.Helper()
	f := fixture(t, name)
	if edit != nil {
		edit(f.Model)
	}
	r, err := roles.Detect(testkit.Load(t, testkit.Write(t, f)))
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// role prints what a test checks of an input's role.
func role(in roles.Input) string {
	s := in.Kind.String()
	if in.Table != "" {
		s += fmt.Sprintf(" of %s[%d]", in.Table, in.Rows)
	}
	if in.With != "" {
		s += " with " + in.With
	}
	if in.Kind == roles.Past {
		s += fmt.Sprintf(" on axis %d", in.PastAxis)
	}
	return s
}

// rename renames a graph input (and its readers in the main graph).
func rename(from, to string) func(*onnxpb.ModelProto) {
	return func(mp *onnxpb.ModelProto) {
		for _, in := range mp.Graph.Input {
			if in.Name == from {
				in.Name = to
			}
		}
		for _, n := range mp.Graph.Node {
			for i, x := range n.Input {
				if x == from {
					n.Input[i] = to
				}
			}
		}
	}
}

// renameTable renames an initializer and its readers.
func renameTable(from, to string) func(*onnxpb.ModelProto) {
	return func(mp *onnxpb.ModelProto) {
		for _, t := range mp.Graph.Initializer {
			if t.Name == from {
				t.Name = to
			}
		}
		rename(from, to)(mp)
	}
}

func TestDetect(t *testing.T) {
	cases := []struct {
		fixture string
		edit    func(*onnxpb.ModelProto)
		want    map[string]string
	}{
		{"ids_int64", nil, map[string]string{"ids": "ids of emb[300]"}},
		// Ids plus an offset are ids of a range the graph computes.
		{"ids_int64", func(mp *onnxpb.ModelProto) {
			g := mp.Graph
			g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "five", DataType: int32(onnxpb.TensorProto_INT64), Int64Data: []int64{5}})
			g.Node[0].Input[1] = "shifted"
			g.Node = append([]*onnxpb.NodeProto{{OpType: "Add", Input: []string{"ids", "five"}, Output: []string{"shifted"}}}, g.Node...)
		}, map[string]string{"ids": "ids"}},
		{"masked_bag", nil, map[string]string{"ids": "ids of word_embeddings[4096]", "mask": "attention mask with ids"}},
		{"roles_bert", nil, map[string]string{
			"input_ids":      "ids of word_embeddings[300]",
			"attention_mask": "attention mask with input_ids",
			"token_type_ids": "token types of token_type_embeddings[2] with input_ids",
			"position_ids":   "position ids of position_embeddings[32] with input_ids",
		}},
		// A position table by its name: GPT-2's wpe, read by an input
		// whose name says nothing.
		{"roles_bert", func(mp *onnxpb.ModelProto) {
			rename("position_ids", "p")(mp)
			renameTable("position_embeddings", "transformer.wpe.weight")(mp)
		}, map[string]string{"p": "position ids of transformer.wpe.weight[32] with input_ids"}},
		{"roles_embedding_bag", nil, map[string]string{"indices": "ids of weight[300]", "offsets": "bag offsets with indices"}},
		// The graph decides, not the name: offsets called "x" still are.
		{"roles_embedding_bag", rename("offsets", "x"), map[string]string{"x": "bag offsets with indices"}},
		{"roles_merged_decoder", nil, map[string]string{
			"input_ids":             "ids of embed_tokens.weight[300]",
			"attention_mask":        "attention mask with input_ids",
			"past_key_values.0.key": "past key/values on axis 2",
			"use_cache_branch":      "use_cache_branch",
		}},
		// A past cache of fixed length is no cache to start empty.
		{"roles_merged_decoder", func(mp *onnxpb.ModelProto) {
			mp.Graph.Input[2] = fixtures.TensorInfo("past_key_values.0.key", onnxpb.TensorProto_FLOAT, "batch_size", 2, 3, 8)
		}, map[string]string{"past_key_values.0.key": "other"}},
		{"roles_fixed_batch", nil, map[string]string{"ids": "ids of emb[300]"}},
		// A fused EmbedLayerNormalization reads each table at its own input.
		{"roles_embed_layer_norm", nil, map[string]string{
			"input_ids":      "ids of word_embeddings[300]",
			"segment_ids":    "token types of segment_embeddings[2] with input_ids",
			"attention_mask": "attention mask with input_ids",
		}},
		{"roles_dense", nil, map[string]string{"ids": "ids of emb[300]", "dense": "other"}},
		// An integer input no Gather reads is no ids, and a bool named
		// like a flag but not use_cache is no use_cache_branch.
		{"if_branch", nil, map[string]string{"cond": "other", "ids": "ids of inner_emb[200]"}},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			r := detect(t, c.fixture, c.edit)
			wantRoles(t, r, c.want)
		})
	}
}

// Roles of exporter-made models (fixtures.Zoo): the ids a function call
// passes to the Gather in its body index that table.
func TestDetectZoo(t *testing.T) {
	cases := []struct {
		model string
		want  map[string]string
	}{
		{"fn_embedding", map[string]string{"ids": "ids of emb.weight[30522]"}},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			r, err := roles.Detect(testkit.Load(t, fixtures.ZooPath(testkit.RepoRoot(t), c.model)))
			if err != nil {
				t.Fatal(err)
			}
			wantRoles(t, r, c.want)
		})
	}
}

// wantRoles checks the role of each named input.
func wantRoles(t *testing.T, r *roles.Roles, want map[string]string) {
	t.Helper()
	for name, w := range want {
		in, ok := r.Get(name)
		if !ok {
			t.Fatalf("no input %q in %+v", name, r.Inputs)
		}
		if got := role(in); got != w {
			t.Errorf("input %s: %s (%s), want %s", name, got, in.Why, w)
		}
	}
}

// The padding id comes from the metadata; a bad one is an error naming
// the key.
func TestDetectPad(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int64
		err   bool
	}{{"", -1, false}, {"0", 0, false}, {" 3 ", 3, false}, {"-1", 0, true}, {"x", 0, true}} {
		f := fixture(t, "masked_bag")
		if c.value != "" {
			f.Model.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: "pad_token_id", Value: c.value}}
		}
		r, err := roles.Detect(testkit.Load(t, testkit.Write(t, f)))
		if c.err {
			if err == nil || !strings.Contains(err.Error(), "pad_token_id") {
				t.Errorf("pad %q: error %v, want one naming pad_token_id", c.value, err)
			}
			continue
		}
		if err != nil || r.Pad != c.want {
			t.Errorf("pad %q: %d (%v), want %d", c.value, r.Pad, err, c.want)
		}
	}
}
