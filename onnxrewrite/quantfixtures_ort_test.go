package onnxrewrite_test

// ONNX Runtime checks of the fixtures package's quantized-table forms
// (fixtures.QuantForms) against their dense references, and of its small
// language models (fixtures.LMs). Only OpenRuntime, NewSession, Run and
// HostTensor are used; helpers are prefixed qf.

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite"
)

// qfRuntime opens ONNX Runtime, failing in CI when it is missing and
// skipping elsewhere.
func qfRuntime(t *testing.T) *onnxrewrite.Runtime {
	t.Helper()
	if _, err := onnxrewrite.RuntimeLibrary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ONNX Runtime is required in CI: %v", err)
		}
		t.Skipf("skipping: ONNX Runtime is not installed (bash scripts/install-onnxruntime.sh): %v", err)
	}
	rt, err := onnxrewrite.OpenRuntime()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := rt.Close(); err != nil {
			t.Error(err)
		}
	})
	return rt
}

// qfRun writes f to a fresh folder, opens it and runs it once.
func qfRun(t *testing.T, rt *onnxrewrite.Runtime, f fixtures.Fixture, in map[string]onnxrewrite.HostTensor) map[string]onnxrewrite.HostTensor {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.Write(dir, f); err != nil {
		t.Fatal(err)
	}
	s, err := rt.NewSession(filepath.Join(dir, f.FileName()), onnxrewrite.SessionOptions{IntraOpThreads: 1})
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
func qfIds(seed uint64, low, high int64, batch, seq int64) onnxrewrite.HostTensor {
	rng := rand.New(rand.NewPCG(seed, 7))
	v := make([]int64, batch*seq)
	for i := range v {
		v[i] = low + rng.Int64N(high-low)
	}
	return onnxrewrite.HostTensor{Shape: []int64{batch, seq}, Data: v}
}

func qfFloats(t *testing.T, name string, h onnxrewrite.HostTensor) []float32 {
	t.Helper()
	v, ok := h.Data.([]float32)
	if !ok {
		t.Fatalf("output %q holds %T, want []float32", name, h.Data)
	}
	return v
}

func TestQuantFixtureORT(t *testing.T) {
	rt := qfRuntime(t)
	for fi, f := range fixtures.QuantForms() {
		t.Run(f.Name, func(t *testing.T) {
			ref := f.DenseReference()
			if f.Quant == nil || ref == nil {
				t.Fatal("no Quant description or dense reference")
			}
			in := f.Inputs[0]
			for trial := range 3 {
				ids := qfIds(uint64(fi*10+trial), in.Low, in.High, 3, 7)
				feed := map[string]onnxrewrite.HostTensor{in.Name: ids}
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
