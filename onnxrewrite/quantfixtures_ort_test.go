//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

// ONNX ort.Runtime checks of the fixtures package's quantized-table forms
// (fixtures.QuantForms) against their dense references, and of its small
// language models (fixtures.LMs). Only ort.OpenRuntime, NewSession, Run and
// ort.HostTensor are used; helpers are prefixed qf.

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// qfRun writes f to a fresh folder, opens it and runs it once.
func qfRun(t *testing.T, rt *ort.Runtime, f fixtures.Fixture, in map[string]ort.HostTensor) map[string]ort.HostTensor {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.Write(dir, f); err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(filepath.Join(dir, f.FileName()), ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	defer s.Close()
	out, err := s.Run(in)
	if err != nil {
		t.Fatalf("%s: %v", f.Name, err)
	}
	return out
}

// qfIds draws int64 ids [batch, seq] in [low, high).
func qfIds(seed uint64, low, high int64, batch, seq int64) ort.HostTensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]int64, batch*seq)
	for i := range v {
		v[i] = low + rng.Int64N(high-low)
	}
	return ort.HostTensor{Shape: []int64{batch, seq}, Data: v}
}

func qfFloats(t *testing.T, name string, h ort.HostTensor) []float32 {
	t.Helper()
	v, ok := h.Data.([]float32)
	if !ok {
		t.Fatalf("output %q holds %T, want []float32", name, h.Data)
	}
	return v
}

func TestQuantFixtureORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.QuantForms() {
		t.Run(f.Name, func(t *testing.T) {
			ref := f.DenseReference()
			if f.Quant == nil || ref == nil {
				t.Fatal("no Quant description or dense reference")
			}
			in := f.Inputs[0]
			for trial := range 3 {
				ids := qfIds(uint64(fi*10+trial), in.Low, in.High, 3, 7)
				feed := map[string]ort.HostTensor{in.Name: ids}
				got := qfRun(t, rt, f, feed)
				want := qfRun(t, rt, fixtures.Fixture{Name: f.Name + "_dense", Model: ref}, feed)
				if len(got) != len(want) {
					t.Fatalf("%d outputs, the dense reference has %d", len(got), len(want))
				}
				for name, w := range want {
					g, ok := got[name]
					if !ok || !slices.Equal(g.Shape, w.Shape) {
						t.Fatalf("output %q: %v, reference shape %v", name, g.Shape, w.Shape)
					}
					x, y := qfFloats(t, name, g), qfFloats(t, name, w)
					var d, n, maxAbs float64
					for i := range x {
						e := float64(x[i]) - float64(y[i])
						d, n, maxAbs = d+e*e, n+float64(y[i])*float64(y[i]), max(maxAbs, math.Abs(e))
					}
					rel := math.Sqrt(d) / math.Sqrt(n)
					if rel > 1e-5 {
						t.Errorf("output %q: %.3g relative to the dense reference (max |diff| %.3g)", name, rel, maxAbs)
					}
					if trial == 0 {
						t.Logf("%s (%s, %s): output %q %v: relative diff %.3g, max |diff| %.3g",
							f.Name, f.Quant.Scheme, f.Quant.Op, name, g.Shape, rel, maxAbs)
					}
				}
			}
		})
	}
}

// qfNextToken is the softmax of one row of logits, with its sum and
// entropy in nats.
func qfNextToken(logits []float32) (p []float64, sum, entropy float64) {
	hi := math.Inf(-1)
	for _, v := range logits {
		hi = max(hi, float64(v))
	}
	p = make([]float64, len(logits))
	var z float64
	for i, v := range logits {
		p[i] = math.Exp(float64(v) - hi)
		z += p[i]
	}
	for i := range p {
		p[i] /= z
		sum += p[i]
		if p[i] > 0 {
			entropy -= p[i] * math.Log(p[i])
		}
	}
	return p, sum, entropy
}

func TestLMFixtureORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.LMs() {
		t.Run(f.Name, func(t *testing.T) {
			if !f.LM || f.Norm == "" {
				t.Fatalf("LM %v, Norm %q", f.LM, f.Norm)
			}
			in := f.Inputs[0]
			for _, shape := range [][2]int64{{2, 6}, {1, 3}} {
				ids := qfIds(uint64(100+fi), in.Low, in.High, shape[0], shape[1])
				out := qfRun(t, rt, f, map[string]ort.HostTensor{in.Name: ids})
				logits, ok := out["logits"]
				if !ok {
					t.Fatalf("no logits among %d outputs", len(out))
				}
				const vocab = 256
				if want := []int64{shape[0], shape[1], vocab}; !slices.Equal(logits.Shape, want) {
					t.Fatalf("logits %v, want %v", logits.Shape, want)
				}
				v := qfFloats(t, "logits", logits)
				rng := rand.New(rand.NewPCG(uint64(fi), 1))
				sampled := map[int]bool{}
				lo, hi := math.Inf(1), 0.0
				for pos := int64(0); pos < shape[0]*shape[1]; pos++ {
					p, sum, h := qfNextToken(v[pos*vocab : (pos+1)*vocab])
					if math.Abs(sum-1) > 1e-9 {
						t.Errorf("position %d: softmax sums to %v", pos, sum)
					}
					if h < 0.5 || h > math.Log(vocab)-0.5 {
						t.Errorf("position %d: next-token entropy %.3f nats, want within [0.5, %.3f]", pos, h, math.Log(vocab)-0.5)
					}
					lo, hi = min(lo, h), max(hi, h)
					for range 8 { // sample at temperature 1
						u, acc := rng.Float64(), 0.0
						for id, q := range p {
							if acc += q; u < acc || id == len(p)-1 {
								sampled[id] = true
								break
							}
						}
					}
				}
				n := shape[0] * shape[1] * 8
				if len(sampled) < int(n)/4 {
					t.Errorf("%d samples gave only %d distinct ids", n, len(sampled))
				}
				t.Logf("%s (%s) ids %v: logits %v, entropy %.2f..%.2f nats (log V = %.2f), %d distinct ids in %d samples",
					f.Name, f.Norm, shape, logits.Shape, lo, hi, math.Log(vocab), len(sampled), n)
			}
		})
	}
}
