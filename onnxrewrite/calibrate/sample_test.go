package calibrate_test

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// lmModel writes the tiny tied LM, after edit changes its proto.
func lmModel(t *testing.T, edit func(*onnxpb.ModelProto)) *model.Model {
	t.Helper()
	f := fixtures.LMs()[0]
	if edit != nil {
		edit(f.Model)
	}
	return testkit.Load(t, testkit.Write(t, f))
}

// Sampled sequences start with the start token, stay in the vocabulary,
// are the same for a seed and differ across seeds, and the held-out
// stream of a seed differs from its calibration stream.
func TestSampleDeterministic(t *testing.T) {
	rt := rtkit.Runtime(t)
	m := lmModel(t, nil)
	draw := func(seed int64, heldOut ...bool) *calibrate.Samples {
		steps := 0
		s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: 6, Len: 12, BOS: -1, Seed: seed, HeldOut: len(heldOut) > 0,
			Progress: func(step, total int) { steps++ }})
		if err != nil {
			t.Fatal(err)
		}
		if steps != 11 || s.Passes != 11 || s.Positions != 6*12*11/2 {
			t.Errorf("seed %d: %d progress steps, %d passes, %d positions; want 11, 11, %d", seed, steps, s.Passes, s.Positions, 6*12*11/2)
		}
		return s
	}
	a, b, c := draw(1), draw(1), draw(2)
	if !slices.Equal(a.IDs, b.IDs) {
		t.Errorf("seed 1 twice: %v vs %v", a.IDs, b.IDs)
	}
	if slices.Equal(a.IDs, c.IDs) {
		t.Errorf("seeds 1 and 2 drew the same ids %v", a.IDs)
	}
	if h, h2 := draw(1, true), draw(1, true); slices.Equal(a.IDs, h.IDs) || !slices.Equal(h.IDs, h2.IDs) {
		t.Errorf("seed 1: held-out ids %v (again %v), calibration ids %v: want them reproducible and apart", h.IDs, h2.IDs, a.IDs)
	}
	if a.BOS != calibrate.DefaultBOS || !strings.Contains(a.BOSFrom, "no bos_token_id") {
		t.Errorf("start token %d (%s), want the default %d", a.BOS, a.BOSFrom, calibrate.DefaultBOS)
	}
	distinct := map[int64]bool{}
	for i, id := range a.IDs {
		if i%a.Len == 0 && id != a.BOS || id < 0 || id >= 256 {
			t.Fatalf("id %d at %d: want the start token first and ids in [0, 256)", id, i)
		}
		distinct[id] = true
	}
	if len(distinct) < 10 {
		t.Errorf("only %d distinct ids in %d sampled: temperature 1 should vary", len(distinct), len(a.IDs))
	}
}

// The start token comes from the metadata when it has one; an unusable one
// is an error asking for --bos.
func TestInferBOS(t *testing.T) {
	for _, c := range []struct {
		value string
		want  int64
		err   bool
	}{{"7", 7, false}, {"300", 0, true}, {"x", 0, true}} {
		m := lmModel(t, func(mp *onnxpb.ModelProto) {
			mp.MetadataProps = []*onnxpb.StringStringEntryProto{{Key: "bos_token_id", Value: c.value}}
		})
		id, from, err := calibrate.InferBOS(m, 256)
		if c.err != (err != nil) || id != c.want || !c.err && from != "metadata bos_token_id" {
			t.Errorf("bos_token_id=%q: %d (%s), %v", c.value, id, from, err)
		}
		if err != nil && !strings.Contains(err.Error(), "give --bos") {
			t.Errorf("error %q does not say to give --bos", err)
		}
	}
}

// The inputs besides the ids are fed by role: attention_mask ones,
// position_ids positions, a past key cache empty; an input no role
// describes cannot be fed and is named in a one-line error.
func TestFindLMInputs(t *testing.T) {
	addInput := func(name string, elem onnxpb.TensorProto_DataType, dims ...any) func(*onnxpb.ModelProto) {
		return func(mp *onnxpb.ModelProto) {
			mp.Graph.Input = append(mp.Graph.Input, fixtures.TensorInfo(name, elem, dims...))
		}
	}
	m := lmModel(t, func(mp *onnxpb.ModelProto) {
		addInput("attention_mask", onnxpb.TensorProto_INT64, "batch_size", "sequence_length")(mp)
		addInput("position_ids", onnxpb.TensorProto_INT32, "batch_size", "sequence_length")(mp)
		addInput("past_key_values.0.key", onnxpb.TensorProto_FLOAT, "batch_size", 4, "past_sequence_length", 8)(mp)
	})
	lm, err := calibrate.FindLM(m, "")
	if err != nil {
		t.Fatal(err)
	}
	feed, err := lm.Feed([]int64{1, 5, 9, 1, 4, 4}, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	if lm.IDs != "input_ids" || lm.Output != "logits" || lm.V != 256 || len(lm.Extra) != 3 ||
		!slices.Equal(feed["attention_mask"].Data.([]int64), []int64{1, 1, 1, 1, 1, 1}) ||
		!slices.Equal(feed["position_ids"].Data.([]int32), []int32{0, 1, 2, 0, 1, 2}) ||
		!slices.Equal(feed["past_key_values.0.key"].Shape, []int64{2, 4, 0, 8}) {
		t.Errorf("FindLM: %+v, feed %v", lm, feed)
	}
	m = lmModel(t, addInput("pixel_values", onnxpb.TensorProto_FLOAT, "batch_size", 3))
	_, err = calibrate.FindLM(m, "")
	if err == nil || !strings.Contains(err.Error(), `input "pixel_values"`) || strings.Contains(err.Error(), "\n") {
		t.Errorf("FindLM with an input no role describes: %v, want a one-line error naming it", err)
	}
}

// A merged decoder samples with its inputs fed by role: an empty past
// cache, a mask over no past, use_cache_branch false.
func TestSampleMergedDecoder(t *testing.T) {
	rt := rtkit.Runtime(t)
	f, ok := fixtures.InputRole("roles_merged_decoder")
	if !ok {
		t.Fatalf("no InputRoles fixture %q", "roles_merged_decoder")
	}
	m := testkit.Load(t, testkit.Write(t, f))
	s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: 3, Len: 6, BOS: 1, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.Inputs(0, 3)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(in["attention_mask"].Shape, []int64{3, 6}) || !slices.Equal(in["past_key_values.0.key"].Shape, []int64{3, 2, 0, 8}) ||
		!slices.Equal(in["use_cache_branch"].Data.([]bool), []bool{false}) {
		t.Errorf("inputs %v", in)
	}
	for _, id := range s.IDs {
		if id < 0 || id >= 300 {
			t.Fatalf("sampled id %d outside the table", id)
		}
	}
}

// A model exported without dynamic axes (the zoo's torch-exported
// gpt2_static, input_ids [1, 12]) is sampled a sequence at a time, its
// prefixes padded to 12: it draws the ids that the same weights exported
// with dynamic axes (gpt2) draw, sequences of its 12 ids by default, and
// refuses another length in one line.
func TestSampleFixedShape(t *testing.T) {
	rt := rtkit.Runtime(t)
	zoo := filepath.Join("..", "..", "fixtures", "testdata", "zoo")
	load := func(name string) *model.Model {
		m, err := model.Load(filepath.Join(zoo, name))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	static, dynamic := load("gpt2_static.onnx"), load("gpt2.onnx")
	opts := calibrate.SampleOptions{N: 6, BOS: 1, Seed: 3}
	a, err := calibrate.Sample(rt, static, opts)
	if err != nil {
		t.Fatal(err)
	}
	opts.Len = 12
	b, err := calibrate.Sample(rt, dynamic, opts)
	if err != nil {
		t.Fatal(err)
	}
	if a.Len != 12 || a.Passes != 6*11 || a.Positions != 6*11*12 {
		t.Errorf("length %d, %d passes, %d positions; want 12, 66, 792", a.Len, a.Passes, a.Positions)
	}
	differ := 0
	for i := 0; i < 6; i++ {
		if !slices.Equal(a.IDs[i*12:(i+1)*12], b.IDs[i*12:(i+1)*12]) {
			differ++
		}
	}
	// Rounding in the padded [1, 12] runs may move a draw across a softmax
	// boundary; more than one sequence in six would be another cause.
	if differ > 1 {
		t.Errorf("%d of 6 sequences differ from the dynamic export's:\n%v\n%v", differ, a.IDs, b.IDs)
	}
	opts.Len = 20
	if _, err := calibrate.Sample(rt, static, opts); err == nil || !strings.Contains(err.Error(), "fixed at 12 ids") || strings.Contains(err.Error(), "\n") {
		t.Errorf("length 20: %v; want one line saying the input is fixed at 12", err)
	}
}
