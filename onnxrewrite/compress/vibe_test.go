package compress_test

import (
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

const vibeModel = "../../../shared/data/vibe-sentiment/sentiment_model.onnx"

func vibeOrSkip(t testing.TB) string {
	if _, err := os.Stat(vibeModel); err != nil {
		t.Skipf("../shared is absent (%v): the vibe model check needs ../shared/data/vibe-sentiment", err)
	}
	return vibeModel
}

func idsTensor(s []fixtures.Sentence) ort.HostTensor {
	return ort.HostTensor{Shape: []int64{int64(len(s)), fixtures.VibeSeqLen}, Data: fixtures.VibeIDs(s), Elem: onnxpb.TensorProto_INT64}
}

// decisions runs the vibe model and thresholds its probabilities at 0.5.
func decisions(t testing.TB, rt *ort.Runtime, path string, in ort.HostTensor) []bool {
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(map[string]ort.HostTensor{"input": in})
	if err != nil {
		t.Fatal(err)
	}
	p := out["output"].Data.([]float32)
	d := make([]bool, len(p))
	for i, x := range p {
		d[i] = x > 0.5
	}
	return d
}

func agreement(a, b []bool) float64 {
	same := 0
	for i := range a {
		if a[i] == b[i] {
			same++
		}
	}
	return float64(same) / float64(len(a))
}

// vibeSet is the vibe model on held-out sentences: the runtime, the
// calibration sentences (seed 1, 400 of them), the held-out ones as the
// model's input and the original model's decisions on them.
type vibeSet struct {
	rt    *ort.Runtime
	calib []fixtures.Sentence
	n     int
	in    ort.HostTensor
	orig  []bool
}

// newVibeSet skips the test without ../shared (or, outside CI, ONNX
// Runtime) and returns n held-out sentences of the given seed.
func newVibeSet(t *testing.T, seed uint64, n int) *vibeSet {
	vibeOrSkip(t)
	rt := rtkit.Runtime(t)
	in := idsTensor(fixtures.VibeSentences(seed, n))
	return &vibeSet{rt: rt, calib: fixtures.VibeSentences(1, 400), n: n, in: in, orig: decisions(t, rt, vibeModel, in)}
}

// vibeRun compresses the vibe model with opts (counts from calib, when
// given) and returns held-out agreement and the size ratio.
func vibeRun(t testing.TB, rt *ort.Runtime, calib []fixtures.Sentence, heldOut ort.HostTensor, orig []bool, opts compress.Options) (float64, float64, *compress.Report) {
	out, rep := vibeCompress(t, rt, vibeModel, calib, opts)
	return agreement(orig, decisions(t, rt, out, heldOut)), float64(filesBytes(t, vibeModel)) / float64(filesBytes(t, out)), rep
}

func filesBytes(t testing.TB, path string) int64 {
	n, err := model.FilesBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// On the real vibe model, codes learned with calibration counts keep the
// model's decisions on held-out sentences, clearly better than the same run
// without counts.
func TestVibeCalibration(t *testing.T) {
	v := newVibeSet(t, 2, 2000)
	rt, calib, heldIn, orig := v.rt, v.calib, v.in, v.orig
	agree, ratio, rep := vibeRun(t, rt, calib, heldIn, orig, compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes})
	t.Logf("calibrated: %.2f%% of %d held-out decisions agree, %.1fx smaller (M=%d K=%d, %d rows read, weighted error %.4f)",
		100*agree, v.n, ratio, rep.Tables[0].M, rep.Tables[0].K, rep.Tables[0].RowsRead, rep.Tables[0].WeightedRelSqErr)
	if tr := rep.Tables[0]; !strings.HasPrefix(tr.Metric, "readout:") || tr.Relative {
		t.Errorf("calibrated: learned in %q (relative %v), want the readout metric", tr.Metric, tr.Relative)
	}
	if agree < 0.99 || ratio < 10 {
		t.Errorf("calibrated: agreement %.4f at %.1fx, want >= 0.99 at >= 10x", agree, ratio)
	}
	if testing.Short() {
		return
	}
	// The goal beyond that: >= 99.5% at >= 20x smaller files, in
	// the median of three seeds. One seed's result moves with any change
	// of the learner's bytes: embshrink-learner-11 gave seeds 1 to 6
	// 99.25, 99.65, 99.70, 99.65, 99.60 and 99.75% (learner-10 99.55 to
	// 99.65%), for the same weighted errors (0.0785 to 0.0805).
	codesDir := t.TempDir()
	var agrees []float64
	for seed := int64(1); seed <= 3; seed++ {
		opts := compress.Options{Seed: seed, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: 14, K: 16}
		if seed == 1 {
			opts.CodesDir = codesDir
		}
		a, r, _ := vibeRun(t, rt, calib, heldIn, orig, opts)
		t.Logf("calibrated, M=14 K=16, seed %d: %.2f%% agree, %.1fx smaller", seed, 100*a, r)
		if seed == 1 {
			agree, ratio = a, r
		}
		agrees = append(agrees, a)
	}
	slices.Sort(agrees)
	if agrees[1] < 0.995 || ratio < 20 {
		t.Errorf("calibrated at M=14: median agreement %.4f at %.1fx, want >= 0.995 at >= 20x", agrees[1], ratio)
	}
	// The same codes in the lookup layout, where the ReduceMean makes the
	// Gather a bag: the same sums in another order, so the same decisions
	// up to a rare tie at the threshold.
	lagree, lratio, lrep := vibeRun(t, rt, calib, heldIn, orig, compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: 14, K: 16, CodesDir: codesDir, Layout: onnxrewrite.LayoutLookup})
	t.Logf("the same, lookup layout (%d bags): %.2f%% agree, %.1fx smaller", lrep.Tables[0].Rewrite.Bags, 100*lagree, lratio)
	if lrep.Tables[0].Rewrite.Bags != 1 || math.Abs(lagree-agree) > 0.001 || lratio < 20 {
		t.Errorf("lookup layout: %d bags, agreement %.4f (decode %.4f) at %.1fx", lrep.Tables[0].Rewrite.Bags, lagree, agree, lratio)
	}
	// Without counts every row weighs alike, and most of the table's rows
	// are untrained noise: calibration must be what makes the difference.
	plain, pratio, _ := vibeRun(t, rt, nil, heldIn, orig, compress.Options{Seed: 1, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes})
	t.Logf("without calibration: %.2f%% agree, %.1fx smaller", 100*plain, pratio)
	if plain >= agree-0.02 {
		t.Errorf("without calibration %.4f agree, calibrated %.4f: calibration should gain at least 2 points", plain, agree)
	}
}
