// Package rtkit holds the test helpers that need ONNX Runtime (and so cgo):
// opening the runtime (skipping where it is missing, failing in CI), saving
// with the onnx-go check, and drawing inputs for fixtures. Only tests import
// it.
package rtkit

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// Runtime opens ONNX Runtime, failing in CI when it is missing and
// skipping elsewhere (ort's own tests use it too).
func Runtime(t *testing.T) *ort.Runtime {
	t.Helper()
	if _, err := ort.RuntimeLibrary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ONNX Runtime is required in CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
	rt, err := ort.OpenRuntime()
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

func Save(t *testing.T, m *model.Model, name string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	// CheckGraph: the written file, read back, also passes onnx-go.
	if err := m.Save(p, model.SaveOptions{Check: validate.CheckGraph}); err != nil {
		t.Fatal(err)
	}
	return p
}

// Inputs draws the inputs of one run: ids uniformly in each input's
// range, negative ones included; a bool input is true on even trials.
func Inputs(ins []fixtures.Input, seed uint64, trial int) map[string]ort.HostTensor {
	rng := rand.New(rand.NewPCG(seed, uint64(trial)))
	out := map[string]ort.HostTensor{}
	for _, in := range ins {
		n := int64(1)
		for _, d := range in.Shape {
			n *= d
		}
		shape := slices.Clone(in.Shape)
		if shape == nil {
			shape = []int64{}
		}
		draw := func() int64 { return in.Low + rng.Int64N(in.High-in.Low) }
		switch in.Elem {
		case onnxpb.TensorProto_BOOL:
			out[in.Name] = ort.HostTensor{Shape: shape, Data: []bool{trial%2 == 0}}
		case onnxpb.TensorProto_INT32:
			v := make([]int32, n)
			for i := range v {
				v[i] = int32(draw())
			}
			out[in.Name] = ort.HostTensor{Shape: shape, Data: v}
		default:
			v := make([]int64, n)
			for i := range v {
				v[i] = draw()
			}
			out[in.Name] = ort.HostTensor{Shape: shape, Data: v}
		}
	}
	return out
}
