package roles_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// generate plans and makes a fixture's inputs.
func generate(t *testing.T, r *roles.Roles, given map[string]model.HostTensor, s roles.Sizes) (*roles.Plan, map[string]roles.Value) {
	t.Helper()
	p, err := r.Plan(given, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := r.Generate(p, given, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	return p, v
}

// Each role's generated values, and the sizes planned for them.
func TestGenerateByRole(t *testing.T) {
	cases := []struct {
		name    string
		fixture string
		sizes   roles.Sizes
		check   func(t *testing.T, p *roles.Plan, v map[string]roles.Value)
	}{
		{"merged decoder starts with an empty past", "roles_merged_decoder", roles.Sizes{Batch: 3}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantShapes(t, p, map[string][]int64{"input_ids": {3, 16}, "attention_mask": {3, 16}, "past_key_values.0.key": {3, 2, 0, 8}, "use_cache_branch": {1}})
			wantData(t, v, "attention_mask", slices.Repeat([]int64{1}, 48))
			wantData(t, v, "use_cache_branch", []bool{false})
			wantData(t, v, "past_key_values.0.key", []float32{})
			if v["past_key_values.0.key"].NotReal || !strings.Contains(v["past_key_values.0.key"].Values, "past length 0") {
				t.Errorf("past: %+v", v["past_key_values.0.key"])
			}
		}},
		{"a past length set by name", "roles_merged_decoder", roles.Sizes{Batch: 2, Dims: map[string]int64{"past_sequence_length": 4, "sequence_length": 3}}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantShapes(t, p, map[string][]int64{"input_ids": {2, 3}, "attention_mask": {2, 7}, "past_key_values.0.key": {2, 2, 4, 8}})
			if !v["past_key_values.0.key"].NotReal {
				t.Errorf("a past of length 4 is made up: %+v", v["past_key_values.0.key"].Values)
			}
		}},
		{"positions, token types, mask", "roles_bert", roles.Sizes{Batch: 2, Dims: map[string]int64{"sequence": 4}}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantData(t, v, "position_ids", []int64{0, 1, 2, 3, 0, 1, 2, 3})
			wantData(t, v, "token_type_ids", make([]int64, 8))
			wantData(t, v, "attention_mask", slices.Repeat([]int64{1}, 8))
			if v["input_ids"].NotReal || v["input_ids"].Table != "word_embeddings" {
				t.Errorf("ids: %+v", v["input_ids"])
			}
		}},
		{"bag offsets partition their ids", "roles_embedding_bag", roles.Sizes{Batch: 5}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantShapes(t, p, map[string][]int64{"indices": {80}, "offsets": {5}})
			off := v["offsets"].Tensor.Data.([]int64)
			if off[0] != 0 || !slices.IsSorted(off) || len(slices.Compact(slices.Clone(off))) != 5 || off[4] >= 80 {
				t.Errorf("offsets %v: want 0 first, then distinct sorted starts below 80", off)
			}
		}},
		{"a batch fixed at 1 runs --samples one at a time", "roles_fixed_batch", roles.Sizes{Batch: 64}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantShapes(t, p, map[string][]int64{"ids": {64, 16}})
			if !p.OneByOne || len(p.Dims) != 1 || !strings.Contains(p.Dims[0].Source, "one at a time") {
				t.Errorf("one by one %v, dims %+v", p.OneByOne, p.Dims)
			}
		}},
		{"a batch fixed at 1, one sample", "roles_fixed_batch", roles.Sizes{Batch: 1}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			wantShapes(t, p, map[string][]int64{"ids": {1, 16}})
			if p.OneByOne {
				t.Error("one sample runs as it is")
			}
		}},
		{"a float input no role describes is noise, said so", "roles_dense", roles.Sizes{Batch: 2}, func(t *testing.T, p *roles.Plan, v map[string]roles.Value) {
			d := v["dense"]
			if !d.NotReal || !strings.Contains(d.Values, "not real data") || len(d.Tensor.Data.([]float32)) != 16 {
				t.Errorf("dense: %+v", d)
			}
			if v["ids"].NotReal {
				t.Error("ids over their table are real enough")
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, v := generate(t, detect(t, c.fixture, nil), nil, c.sizes)
			c.check(t, p, v)
		})
	}
}

func wantShapes(t *testing.T, p *roles.Plan, want map[string][]int64) {
	t.Helper()
	for name, s := range want {
		if !slices.Equal(p.Shapes[name], s) {
			t.Errorf("input %s: shape %v, want %v (dims %+v)", name, p.Shapes[name], s, p.Dims)
		}
	}
}

func wantData(t *testing.T, v map[string]roles.Value, name string, want any) {
	t.Helper()
	if got := v[name].Tensor.Data; !reflect.DeepEqual(got, want) {
		t.Errorf("input %s: %v, want %v", name, got, want)
	}
}

// With a padding id in the metadata, a mask ends where its ids' padding
// starts: the given ids', or generated ids padded after a random length.
func TestMaskFollowsPadding(t *testing.T) {
	pad := func(mp *onnxpb.ModelProto) {
		mp.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: "pad_token_id", Value: "0"}}
	}
	r := detect(t, "masked_bag", pad)
	ids := make([]int64, 2*16)
	copy(ids, []int64{5, 6, 7})
	copy(ids[16:], []int64{9, 0, 3, 4})
	given := map[string]model.HostTensor{"ids": {Shape: []int64{2, 16}, Data: ids}}
	_, v := generate(t, r, given, roles.Sizes{Batch: 8})
	want := make([]float32, 32)
	for i := range want {
		if i < 3 || i >= 16 && i < 20 {
			want[i] = 1
		}
	}
	wantData(t, v, "mask", want)

	_, v = generate(t, r, nil, roles.Sizes{Batch: 8})
	gen, mask := v["ids"].Tensor.Data.([]int64), v["mask"].Tensor.Data.([]float32)
	lengths := map[int]bool{}
	for row := 0; row < 8; row++ {
		n := 0
		for n < 16 && mask[row*16+n] == 1 {
			n++
		}
		lengths[n] = true
		for j := 0; j < 16; j++ {
			if (j < n) != (mask[row*16+j] == 1) || j >= n && gen[row*16+j] != 0 {
				t.Fatalf("row %d: mask %v, ids %v: want ones then zeros, ids padded with 0 where the mask is 0", row, mask[row*16:row*16+16], gen[row*16:row*16+16])
			}
		}
	}
	if n := len(lengths); n < 3 || lengths[0] {
		t.Errorf("row lengths %v: want several, none 0", lengths)
	}
}

// Complete fills what calibration lacks by role and refuses an input whose
// values would be made up, naming it and the flag that passes it.
func TestComplete(t *testing.T) {
	ids := model.HostTensor{Shape: []int64{3, 16}, Data: make([]int64, 48)}
	r := detect(t, "masked_bag", nil)
	in, made, err := r.Complete(map[string]model.HostTensor{"ids": ids}, "--calibration")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(in["mask"].Data, slices.Repeat([]float32{1}, 48)) || !slices.Equal(in["mask"].Shape, []int64{3, 16}) || len(made) != 1 {
		t.Errorf("mask %+v, made %+v", in["mask"], made)
	}
	r = detect(t, "roles_dense", nil)
	_, _, err = r.Complete(map[string]model.HostTensor{"ids": ids}, "--calibration")
	if err == nil || !strings.Contains(err.Error(), "--calibration dense=FILE.npy") || !strings.Contains(err.Error(), `input "dense"`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("error %v, want one line naming input dense and --calibration dense=FILE.npy", err)
	}
}

// The same seed gives the same inputs.
func TestGenerateDeterministic(t *testing.T) {
	r := detect(t, "roles_bert", nil)
	_, a := generate(t, r, nil, roles.Sizes{Batch: 4})
	_, b := generate(t, r, nil, roles.Sizes{Batch: 4})
	if !reflect.DeepEqual(a, b) {
		t.Error("two runs of one seed differ")
	}
}

// Given inputs of a model whose batch is fixed at 1 may hold any number of
// samples along their first axis, which then run one at a time; the
// batch-major inputs must agree on that number.
func TestFixedBatchGivenRows(t *testing.T) {
	withMask := func(mp *onnxpb.ModelProto) {
		mp.Graph.Input = append(mp.Graph.Input, fixtures.TensorInfo("attention_mask", onnxpb.TensorProto_INT64, 1, 16))
	}
	r := detect(t, "roles_fixed_batch", withMask)
	ids, _ := r.Get("ids")
	if !r.AnyRows(ids, 0) || r.AnyRows(ids, 1) {
		t.Errorf("AnyRows(ids): axis 0 %v, axis 1 %v; want true, false", r.AnyRows(ids, 0), r.AnyRows(ids, 1))
	}
	if bert := detect(t, "roles_bert", nil); bert.AnyRows(bert.Inputs[0], 0) {
		t.Error("a dynamic batch is no fixed one")
	}
	rows := func(n int) model.HostTensor {
		return model.HostTensor{Shape: []int64{int64(n), 16}, Data: make([]int64, n*16)}
	}
	p, v := generate(t, r, map[string]model.HostTensor{"ids": rows(5)}, roles.Sizes{Batch: 64})
	if !p.OneByOne || p.Batch != 5 {
		t.Errorf("five given samples: one by one %v, batch %d; want true, 5", p.OneByOne, p.Batch)
	}
	if got := v["attention_mask"].Tensor.Shape; !slices.Equal(got, []int64{5, 16}) {
		t.Errorf("the generated mask has shape %v, want [5 16] beside the given ids", got)
	}
	_, err := r.Plan(map[string]model.HostTensor{"ids": rows(5), "attention_mask": rows(2)}, roles.Sizes{Batch: 64})
	if err == nil || !strings.Contains(err.Error(), `"attention_mask" has shape [2 16]`) {
		t.Errorf("5 ids and 2 masks: %v; want an error naming the mask", err)
	}
}
