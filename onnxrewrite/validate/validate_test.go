package validate_test

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// cmpRewrites writes two rewrites of the model at path, each of its
// default table with codes M x K: a faithful pair (an original whose table
// is exactly what the codes decode to, and its rewrite with those codes),
// and the rewrite of the untouched model with random codes. It returns the
// faithful original, its rewrite, and the random rewrite.
func cmpRewrites(t *testing.T, path string, mGroups, k int, seed uint64) (orig, faithful, random string) {
	t.Helper()
	m := testkit.Load(t, path)
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := inv.Table("")
	if err != nil {
		t.Fatal(err)
	}
	grid := 0.0
	switch tb.DType {
	case "float16":
		grid = 64
	case "bfloat16":
		grid = 8
	}
	cs, book := testkit.Codes(int(tb.Shape[0]), mGroups, k, int(tb.Shape[1]), seed, grid)
	if err := onnxrewrite.SetTableValues(m, tb.Name, codes.Decode(cs, book)); err != nil {
		t.Fatal(err)
	}
	orig = rtkit.Save(t, m, "original.onnx")
	m = testkit.Load(t, orig)
	if _, err := onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutLookup}); err != nil {
		t.Fatal(err)
	}
	faithful = rtkit.Save(t, m, "faithful.onnx")

	m = testkit.Load(t, path)
	rc, rb := testkit.Codes(int(tb.Shape[0]), mGroups, k, int(tb.Shape[1]), seed+1, grid)
	if _, err := onnxrewrite.RewriteTable(m, rc, rb, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutLookup}); err != nil {
		t.Fatal(err)
	}
	random = rtkit.Save(t, m, "random.onnx")
	return orig, faithful, random
}

func TestCompareModelsFixtures(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.All() {
		if f.Table == "" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			path := testkit.Write(t, f)
			orig, faithful, random := cmpRewrites(t, path, 4, 16, uint64(fi))
			opts := validate.CompareOptions{Seed: 1}
			for _, in := range f.Model.Graph.Input {
				if in.GetType().GetTensorType().GetShape() != nil {
					continue
				}
				// No rank to generate values for: refused, then given.
				_, err := validate.CompareModels(rt, orig, faithful, gated(opts))
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("input %q is declared without a shape", in.Name)) {
					t.Errorf("input %s of unknown rank: %v, want a refusal naming it", in.Name, err)
				}
				opts.Inputs = rtkit.Inputs(f.Inputs, uint64(fi), 0)
			}
			rep, err := validate.CompareModels(rt, orig, faithful, gated(opts))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass {
				t.Errorf("faithful rewrite fails: %+v", rep.Outputs)
			}
			for _, o := range rep.Outputs {
				if !o.WithinTolerance || o.Cosine < 1-1e-6 {
					t.Errorf("faithful rewrite, output %s: %+v", o.Name, o)
				}
			}
			for name, val := range f.Feed {
				// Take the branch that reads the rewritten table.
				if opts.Inputs == nil {
					opts.Inputs = map[string]ort.HostTensor{}
				}
				opts.Inputs[name] = ort.HostTensor{Shape: []int64{}, Data: []bool{val}}
			}
			rep, err = validate.CompareModels(rt, path, random, gated(opts))
			if err != nil {
				t.Fatal(err)
			}
			if rep.Pass {
				t.Errorf("random rewrite passes: %+v", rep.Outputs)
			}
			for _, in := range rep.Inputs {
				if _, given := opts.Inputs[in.Name]; in.Source != map[bool]string{true: "given", false: "generated"}[given] {
					t.Errorf("input %s: source %q", in.Name, in.Source)
				}
			}
		})
	}
}

// TestCompareModelsInputs checks generated inputs (shapes, dims, id
// ranges, determinism) and given ones.
func TestCompareModelsInputs(t *testing.T) {
	rt := rtkit.Runtime(t)
	var f fixtures.Fixture
	for _, x := range fixtures.All() {
		if x.Name == "ids_int64" {
			f = x
		}
	}
	path := testkit.Write(t, f)
	cases := []struct {
		name      string
		opts      validate.CompareOptions
		shape     []int64
		source    string
		idRange   []int64
		dims      []validate.DimReport
		wantTable string
	}{
		{"defaults", validate.CompareOptions{}, []int64{64, 16}, "generated", []int64{0, 300},
			[]validate.DimReport{{Input: "ids", Axis: 0, Param: "batch", Value: 64, Source: "samples"},
				{Input: "ids", Axis: 1, Param: "seq", Value: 16, Source: "default"}}, "emb"},
		{"samples and dims", validate.CompareOptions{Samples: 3, Dims: map[string]int64{"seq": 7}}, []int64{3, 7}, "generated", []int64{0, 300},
			[]validate.DimReport{{Input: "ids", Axis: 0, Param: "batch", Value: 3, Source: "samples"},
				{Input: "ids", Axis: 1, Param: "seq", Value: 7, Source: "dims"}}, "emb"},
		{"given", validate.CompareOptions{Inputs: map[string]ort.HostTensor{
			"ids": {Shape: []int64{2, 3}, Data: []int64{4, -1, 0, 9, 9, 2}}}}, []int64{2, 3}, "given", []int64{-1, 10},
			[]validate.DimReport{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := validate.CompareModels(rt, path, path, gated(c.opts))
			if err != nil {
				t.Fatal(err)
			}
			if !rep.Pass || len(rep.Outputs) != 1 || rep.Outputs[0].MaxAbsDiff != 0 {
				t.Errorf("a model against itself: %+v", rep.Outputs)
			}
			in := rep.Inputs[0]
			if !slices.Equal(in.Shape, c.shape) || in.Source != c.source || !slices.Equal(in.IDRange, c.idRange) || in.Table != c.wantTable {
				t.Errorf("input %+v, want shape %v, source %s, ids %v, table %q", in, c.shape, c.source, c.idRange, c.wantTable)
			}
			if !reflect.DeepEqual(rep.Dims, c.dims) {
				t.Errorf("dims %+v, want %+v", rep.Dims, c.dims)
			}
			if want := append(slices.Clone(c.shape), 4); !slices.Equal(rep.Outputs[0].Shape, want) {
				t.Errorf("output shape %v, want %v", rep.Outputs[0].Shape, want)
			}
			if rep.Outputs[0].DecisionKind != "argmax" || rep.Outputs[0].Agreement == nil || *rep.Outputs[0].Agreement != 1 {
				t.Errorf("decisions %+v", rep.Outputs[0])
			}
		})
	}
	// Generated inputs depend on the seed alone.
	_, _, random := cmpRewrites(t, path, 4, 16, 5)
	a, err := validate.CompareModels(rt, path, random, gated(validate.CompareOptions{Seed: 9}))
	if err != nil {
		t.Fatal(err)
	}
	b, err := validate.CompareModels(rt, path, random, gated(validate.CompareOptions{Seed: 9}))
	if err != nil {
		t.Fatal(err)
	}
	c, err := validate.CompareModels(rt, path, random, gated(validate.CompareOptions{Seed: 10}))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(a, b) {
		t.Errorf("same seed, different reports:\n%+v\n%+v", a.Outputs, b.Outputs)
	}
	if a.Outputs[0].Cosine == c.Outputs[0].Cosine {
		t.Errorf("seeds 9 and 10 gave the same cosine %g", a.Outputs[0].Cosine)
	}
}

// cmpFloatModel writes a model out = op(x [n, width] float32), where op is
// Identity, Mul by scale, Sigmoid or Sigmoid after Add of shift, or Sum,
// the scalar sum of x times scale.
func cmpFloatModel(t *testing.T, name string, width int, op string, c float32) string {
	t.Helper()
	constant := &onnxpb.TensorProto{Name: "c", DataType: int32(onnxpb.TensorProto_FLOAT),
		RawData: binary.LittleEndian.AppendUint32(nil, math.Float32bits(c))}
	var nodes []*onnxpb.NodeProto
	switch op {
	case "Identity":
		nodes = []*onnxpb.NodeProto{{OpType: "Identity", Input: []string{"x"}, Output: []string{"out"}}}
	case "Mul":
		nodes = []*onnxpb.NodeProto{{OpType: "Mul", Input: []string{"x", "c"}, Output: []string{"out"}}}
	case "Sigmoid":
		nodes = []*onnxpb.NodeProto{
			{OpType: "Add", Input: []string{"x", "c"}, Output: []string{"shifted"}},
			{OpType: "Sigmoid", Input: []string{"shifted"}, Output: []string{"out"}},
		}
	case "Sum":
		nodes = []*onnxpb.NodeProto{
			{OpType: "Mul", Input: []string{"x", "c"}, Output: []string{"scaled"}},
			{OpType: "ReduceSum", Input: []string{"scaled"}, Output: []string{"out"}, Attribute: []*onnxpb.AttributeProto{
				{Name: "keepdims", Type: onnxpb.AttributeProto_INT, I: 0}}},
		}
	}
	out := fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT, "n", width)
	if op == "Sum" {
		out = fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT) // rank 0
	}
	mp := &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}, Graph: &onnxpb.GraphProto{
		Name:        "float",
		Node:        nodes,
		Initializer: []*onnxpb.TensorProto{constant},
		Input:       []*onnxpb.ValueInfoProto{fixtures.TensorInfo("x", onnxpb.TensorProto_FLOAT, "n", width)},
		Output:      []*onnxpb.ValueInfoProto{out},
	}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestCompareModelsGate checks the numeric tolerance and the decision gate
// on float outputs: argmax over a last dimension of 5, and a [n, 1] output
// in [0, 1] thresholded at 0.5.
func TestCompareModelsGate(t *testing.T) {
	rt := rtkit.Runtime(t)
	ident := cmpFloatModel(t, "ident.onnx", 5, "Identity", 0)
	scaled := cmpFloatModel(t, "scaled.onnx", 5, "Mul", 1.01) // same argmax, 1% larger
	flipped := cmpFloatModel(t, "flipped.onnx", 5, "Mul", -1) // argmax becomes argmin
	sig := cmpFloatModel(t, "sig.onnx", 1, "Sigmoid", 0)
	sigShift := cmpFloatModel(t, "sigshift.onnx", 1, "Sigmoid", 0.1) // x in (-0.1, 0], 4%, flip
	cases := []struct {
		name             string
		orig, rw         string
		opts             validate.CompareOptions
		kind             string
		within, pass     bool
		minAgree, maxAgr float64
	}{
		{"identical", ident, ident, validate.CompareOptions{}, "argmax", true, true, 1, 1},
		{"scaled, default tolerance: decisions agree", ident, scaled, validate.CompareOptions{}, "argmax", false, true, 1, 1},
		{"scaled, rtol 2%", ident, scaled, validate.CompareOptions{RTol: 0.02}, "argmax", true, true, 1, 1},
		{"scaled, decision gate off", ident, scaled, validate.CompareOptions{MinAgreement: -1}, "argmax", false, false, 1, 1},
		{"flipped", ident, flipped, validate.CompareOptions{}, "argmax", false, false, 0, 0.01},
		{"sigmoid shifted, 99% wanted", sig, sigShift, validate.CompareOptions{Samples: 1000}, "threshold_0.5", false, false, 0.93, 0.99},
		{"sigmoid shifted, 90% wanted", sig, sigShift, validate.CompareOptions{Samples: 1000, MinAgreement: 0.9}, "threshold_0.5", false, true, 0.93, 0.99},
		{"sigmoid shifted, atol 0.03", sig, sigShift, validate.CompareOptions{Samples: 1000, ATol: 0.03}, "threshold_0.5", true, true, 0.93, 0.99},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := validate.CompareModels(rt, c.orig, c.rw, gated(c.opts))
			if err != nil {
				t.Fatal(err)
			}
			o := rep.Outputs[0]
			if o.DecisionKind != c.kind || o.WithinTolerance != c.within || o.Pass != c.pass || rep.Pass != c.pass {
				t.Errorf("got kind %q, within %v, pass %v (%s); want %q, %v, %v", o.DecisionKind, o.WithinTolerance, o.Pass, o.Reason, c.kind, c.within, c.pass)
			}
			if o.Agreement == nil {
				t.Fatalf("no agreement for a %q output", o.DecisionKind)
			}
			if *o.Agreement < c.minAgree || *o.Agreement > c.maxAgr {
				t.Errorf("agreement %g, want in [%g, %g]", *o.Agreement, c.minAgree, c.maxAgr)
			}
			if want := o.MaxAbsDiff <= o.Tolerance; want != o.WithinTolerance {
				t.Errorf("max abs diff %g, tolerance %g, within %v", o.MaxAbsDiff, o.Tolerance, o.WithinTolerance)
			}
		})
	}
}

// TestCompareModelsScalar compares rank-0 outputs like any other: the
// absolute and relative difference against the tolerance. The cosine of
// one value is its sign agreement (1, or -1 when the signs differ) and
// there are no decisions, so only the tolerance gates.
func TestCompareModelsScalar(t *testing.T) {
	rt := rtkit.Runtime(t)
	sum := cmpFloatModel(t, "sum.onnx", 5, "Sum", 1)
	cases := []struct {
		name   string
		rw     string
		opts   validate.CompareOptions
		pass   bool
		rel    float64 // max rel diff, within 1e-5
		cosine float64
	}{
		{"itself", sum, validate.CompareOptions{}, true, 0, 1},
		{"1% larger", cmpFloatModel(t, "sum101.onnx", 5, "Sum", 1.01), validate.CompareOptions{}, false, 0.01, 1},
		{"1% larger, rtol 2%", cmpFloatModel(t, "sum101.onnx", 5, "Sum", 1.01), validate.CompareOptions{RTol: 0.02}, true, 0.01, 1},
		{"negated", cmpFloatModel(t, "neg.onnx", 5, "Sum", -1), validate.CompareOptions{}, false, 2, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := validate.CompareModels(rt, sum, c.rw, gated(c.opts))
			if err != nil {
				t.Fatal(err)
			}
			o := rep.Outputs[0]
			if len(o.Shape) != 0 || o.Pass != c.pass || rep.Pass != c.pass || math.Abs(o.MaxRelDiff-c.rel) > 1e-5 ||
				math.Abs(o.Cosine-c.cosine) > 1e-12 || o.Agreement != nil || o.DecisionKind != "" {
				t.Errorf("shape %v, pass %v, max rel diff %g, cosine %g, decisions %q (%s); want [], %v, %g, %g, none",
					o.Shape, o.Pass, o.MaxRelDiff, o.Cosine, o.DecisionKind, o.Reason, c.pass, c.rel, c.cosine)
			}
		})
	}
}

func TestCompareModelsErrors(t *testing.T) {
	rt := rtkit.Runtime(t)
	paths := map[string]string{}
	for _, f := range fixtures.All() {
		paths[f.Name] = testkit.Write(t, f)
	}
	i64, i32 := paths["ids_int64"], paths["ids_int32"]
	cases := []struct {
		name     string
		orig, rw string
		opts     validate.CompareOptions
		want     string
	}{
		{"missing original", filepath.Join(t.TempDir(), "none.onnx"), i64, validate.CompareOptions{}, "none.onnx"},
		{"missing rewrite", i64, filepath.Join(t.TempDir(), "gone.onnx"), validate.CompareOptions{}, "gone.onnx"},
		{"input types differ", i64, i32, validate.CompareOptions{}, `different inputs ("ids" is int64 vs int32)`},
		{"input names differ", i64, paths["if_branch"], validate.CompareOptions{}, "different inputs"},
		{"outputs differ", i64, paths["opset13"], validate.CompareOptions{}, "different outputs"},
		{"unknown dim", i64, i64, validate.CompareOptions{Dims: map[string]int64{"len": 3}}, `dimension named "len"`},
		{"zero dim", i64, i64, validate.CompareOptions{Dims: map[string]int64{"seq": 0}}, "positive"},
		{"given input of wrong type", i64, i64, validate.CompareOptions{Inputs: map[string]ort.HostTensor{
			"ids": {Shape: []int64{1, 1}, Data: []int32{1}}}}, "holds int32, the model wants int64"},
		{"given input of wrong rank", i64, i64, validate.CompareOptions{Inputs: map[string]ort.HostTensor{
			"ids": {Shape: []int64{2}, Data: []int64{1, 2}}}}, "the model wants [batch, seq]"},
		{"given input not in the model", i64, i64, validate.CompareOptions{Inputs: map[string]ort.HostTensor{
			"idz": {Shape: []int64{2}, Data: []int64{1, 2}}}}, `"idz" is not a model input`},
		{"given dim clashes with dims", i64, i64, validate.CompareOptions{Dims: map[string]int64{"seq": 4}, Inputs: map[string]ort.HostTensor{
			"ids": {Shape: []int64{1, 2}, Data: []int64{1, 2}}}}, `dimension "seq"`},
		{"agreement above 1", i64, i64, validate.CompareOptions{MinAgreement: 1.5}, "above 1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rep, err := validate.CompareModels(rt, c.orig, c.rw, gated(c.opts))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v (report %+v), want one mentioning %q", err, rep, c.want)
			}
		})
	}
}

// TestCompareModelsVibe compares rewrites of the real sentiment model with
// random 8x16 codes: a faithful one passes, a random one fails.
func TestCompareModelsVibe(t *testing.T) {
	path := testkit.SharedData(t, "vibe-sentiment/sentiment_model.onnx")
	rt := rtkit.Runtime(t)
	orig, faithful, random := cmpRewrites(t, path, 8, 16, 1)
	opts := validate.CompareOptions{Samples: 256, Dims: map[string]int64{"seq_len": 20}, Seed: 1}
	for _, c := range []struct {
		name, a, b string
		pass       bool
	}{
		{"faithful", orig, faithful, true},
		{"random", path, random, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rep, err := validate.CompareModels(rt, c.a, c.b, gated(opts))
			if err != nil {
				t.Fatal(err)
			}
			o := rep.Outputs[0]
			t.Logf("%s: pass %v, max abs diff %.3g, agreement %.4f (%s), cosine %.6f; input %s",
				c.name, rep.Pass, o.MaxAbsDiff, *o.Agreement, o.DecisionKind, o.Cosine, rep.Inputs[0].Values)
			if rep.Pass != c.pass {
				t.Errorf("pass %v, want %v: %s", rep.Pass, c.pass, o.Reason)
			}
			if o.DecisionKind != "threshold_0.5" || !slices.Equal(rep.Inputs[0].IDRange, []int64{0, 15000}) {
				t.Errorf("output %+v, input %+v", o, rep.Inputs[0])
			}
		})
	}
}

// gated fills the gate fields a case leaves at zero with validate's
// defaults, as the CLI's flags do, so that each case states only what it
// changes.
func gated(o validate.CompareOptions) validate.CompareOptions {
	d := validate.DefaultCompareOptions()
	if o.RTol == 0 {
		o.RTol = d.RTol
	}
	if o.ATol == 0 {
		o.ATol = d.ATol
	}
	if o.MinAgreement == 0 {
		o.MinAgreement = d.MinAgreement
	}
	if o.MinCosine == 0 {
		o.MinCosine = d.MinCosine
	}
	return o
}
