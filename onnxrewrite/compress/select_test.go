package compress_test

import (
	"context"
	"math"
	"path/filepath"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// klOf runs a model file on the inputs and returns the mean KL of the
// softmax of its logits from the reference logits, computed here.
func klOf(t *testing.T, rt *ort.Runtime, path string, in map[string]ort.HostTensor, ref []float32, v int) float64 {
	t.Helper()
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	got := out["logits"].Data.([]float32)
	softmax := func(x []float32) []float64 {
		hi := math.Inf(-1)
		for _, a := range x {
			hi = math.Max(hi, float64(a))
		}
		p, sum := make([]float64, len(x)), 0.0
		for i, a := range x {
			p[i] = math.Exp(float64(a) - hi)
			sum += p[i]
		}
		for i := range p {
			p[i] /= sum
		}
		return p
	}
	var kl float64
	rows := len(ref) / v
	for r := 0; r < rows; r++ {
		p, q := softmax(ref[r*v:(r+1)*v]), softmax(got[r*v:(r+1)*v])
		for i := range p {
			kl += p[i] * math.Log(p[i]/q[i])
		}
	}
	return kl / float64(rows)
}

func logitsOf(t *testing.T, rt *ort.Runtime, path string, in map[string]ort.HostTensor) []float32 {
	return outputOf(t, rt, path, in, "logits")
}

// outputOf runs the model at path on in (one thread) and returns its float32
// output name.
func outputOf(t *testing.T, rt *ort.Runtime, path string, in map[string]ort.HostTensor, name string) []float32 {
	t.Helper()
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return out[name].Data.([]float32)
}

// Selection by output keeps the candidate of lowest KL on held-out
// sequences, each candidate's score being the KL its model alone gives
// (computed here, from a model compressed with that seed only).
func TestSelectCandidates(t *testing.T) {
	rt := rtkit.Runtime(t)
	f := lmFixture(t, "lm_tied_rmsnorm")
	m := loadFixture(t, f)
	held, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: 16, Len: 16, BOS: 1, Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	in := sampleInputs(t, held, 0, held.N)
	div, err := validate.NewDivergence(rt, m.Path, in, []int64{256})
	if err != nil {
		t.Fatal(err)
	}
	base := compress.Options{M: 2, K: 8, Seed: 5, Floor: compress.DefaultFloor}
	opts := base
	opts.Candidates, opts.Score = 4, div.Score
	rep, err := compress.Compress(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	tr := rep.Tables[0]
	if len(tr.Candidates) != 4 {
		t.Fatalf("%d candidates, want 4", len(tr.Candidates))
	}
	ref := logitsOf(t, rt, m.Path, in) // m.Path is the original's file
	scores := map[float64]bool{}
	best, bestKL := int64(-1), math.Inf(1)
	for _, c := range tr.Candidates {
		one := loadFixture(t, f)
		o := base
		o.Seed = c.Seed
		if _, err := compress.Compress(context.Background(), one, o); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "one.onnx")
		if err := one.Save(path, model.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		kl := klOf(t, rt, path, in, ref, 256)
		scores[c.Score] = true
		t.Logf("seed %d: score %.5f, KL computed here %.5f", c.Seed, c.Score, kl)
		if math.Abs(kl-c.Score) > 1e-4*math.Max(kl, 1e-3) {
			t.Errorf("seed %d: score %.6f, KL computed here %.6f", c.Seed, c.Score, kl)
		}
		if kl < bestKL {
			best, bestKL = c.Seed, kl
		}
	}
	if len(scores) < 2 {
		t.Errorf("every candidate scored the same: %+v", tr.Candidates)
	}
	if tr.Seed != best {
		t.Errorf("kept seed %d, the lowest KL is seed %d's (%.5f)", tr.Seed, best, bestKL)
	}
}

// sampleInputs are the inputs of sampled sequences [from, to).
func sampleInputs(t *testing.T, s *calibrate.Samples, from, to int) map[string]ort.HostTensor {
	t.Helper()
	in, err := s.Inputs(from, to)
	if err != nil {
		t.Fatal(err)
	}
	return in
}
