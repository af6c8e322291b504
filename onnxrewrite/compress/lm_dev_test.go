package compress_test

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// lmEval holds the original model's figures on held-out sequences.
type lmEval struct {
	in     map[string]ort.HostTensor
	ids    []int64
	n, l   int
	logits []float32
	v      int
}

// lmFigures are mean KL(original || compressed) per position, top-1
// agreement and the compressed model's perplexity on the held-out ids.
func (e *lmEval) figures(t *testing.T, rt *ort.Runtime, path string) (kl, top1, ppl float64) {
	got := logitsOf(t, rt, path, e.in)
	kl = validate.MeanKL(e.logits, got, e.v, false)
	agree, nll, count := 0, 0.0, 0
	for r := 0; r < e.n*e.l; r++ {
		a, b := e.logits[r*e.v:(r+1)*e.v], got[r*e.v:(r+1)*e.v]
		if testkit.Argmax32(a) == testkit.Argmax32(b) {
			agree++
		}
		if (r+1)%e.l == 0 {
			continue // the last position predicts no held-out id
		}
		next := int(e.ids[r+1])
		hi := math.Inf(-1)
		for _, x := range b {
			hi = math.Max(hi, float64(x))
		}
		var sum float64
		for _, x := range b {
			sum += math.Exp(float64(x) - hi)
		}
		nll += hi + math.Log(sum) - float64(b[next])
		count++
	}
	return kl, float64(agree) / float64(e.n*e.l), math.Exp(nll / float64(count))
}

// lmRun compresses the model at mxk, self-calibrated on n sequences (seed
// 1) and choosing among cands candidates as the CLI does, and returns the
// figures and seconds taken.
func lmRun(t *testing.T, rt *ort.Runtime, path string, e *lmEval, mm, n, cands int) string {
	start := time.Now()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	opts := compress.Options{M: mm, K: 16, Seed: 1, Floor: compress.DefaultFloor}
	if n > 0 {
		h := 0
		if cands > 1 {
			h = min(max(n/4, 8), 64) // as cmd/embshrink's heldBack
		}
		s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: n + h, Len: calibrate.DefaultSampleLen, BOS: -1, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		if opts.Counts, err = calibrate.RowCounts(rt, m, nil, sampleInputs(t, s, 0, n)); err != nil {
			t.Fatal(err)
		}
		if cands > 1 {
			div, err := validate.NewDivergence(rt, path, sampleInputs(t, s, n, n+h), []int64{int64(e.v)})
			if err != nil {
				t.Fatal(err)
			}
			opts.Candidates, opts.Score = cands, div.Score
		}
	}
	rep, err := compress.Compress(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "small.onnx")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	kl, top1, ppl := e.figures(t, rt, out)
	tr := rep.Tables[0]
	return fmt.Sprintf("%dx16 self-calibrate %3d candidates %d: KL %.4f  top-1 %.2f%%  perplexity %.3f  %.1fs  (seed %d, relative %v)",
		mm, n, cands, kl, 100*top1, ppl, secs, tr.Seed, tr.Relative)
}

// The measurement on stories260K (tied and folded): mean KL, top-1
// agreement and perplexity on 200 held-out sequences sampled from the
// original with seed 2, after compressing self-calibrated on 300 sequences
// sampled with seed 1, with and without --candidates 4. Run with
//
//	EMBSHRINK_DEV=1 go test ./onnxrewrite/compress -run LMStories -v -timeout 30m
func TestLMStoriesSelfCalibrated(t *testing.T) {
	if os.Getenv("EMBSHRINK_DEV") == "" {
		t.Skip("set EMBSHRINK_DEV=1 for the stories260K measurement (minutes)")
	}
	rt := rtkit.Runtime(t)
	for _, name := range []string{"stories260K_tied.onnx", "stories260K_untied_folded.onnx"} {
		path := testkit.SharedData(t, "stories260k/"+name)
		e, ppl := heldOutEval(t, rt, path, 200)
		t.Logf("%s: original perplexity %.3f on %d held-out sequences of %d", name, ppl, e.n, e.l)
		t.Logf("%s: %s", name, lmRun(t, rt, path, e, 16, 0, 1))
		for _, mm := range []int{8, 16, 20} {
			for _, cands := range []int{1, 4} {
				t.Logf("%s: %s", name, lmRun(t, rt, path, e, mm, 300, cands))
			}
		}
	}
}

// heldOutEval samples n held-out sequences from the model at path (seed
// 2) and returns them with the original's logits, and its perplexity.
func heldOutEval(t *testing.T, rt *ort.Runtime, path string, n int) (*lmEval, float64) {
	t.Helper()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	held, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: n, Len: calibrate.DefaultSampleLen, BOS: -1, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	e := &lmEval{in: sampleInputs(t, held, 0, held.N), ids: held.IDs, n: held.N, l: held.Len, v: int(held.LM.V)}
	e.logits = logitsOf(t, rt, path, e.in)
	_, _, ppl := e.figures(t, rt, path)
	return e, ppl
}
