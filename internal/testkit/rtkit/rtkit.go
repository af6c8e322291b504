// Package rtkit holds the test helpers that need ONNX Runtime (and so cgo):
// opening the runtime (skipping where it is missing, failing in CI), saving
// with the structural check (and onnx-go's reading where it decodes the file), and drawing inputs for fixtures. Only tests import
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
	// CheckGraph: the written file, read back, passes the structural
	// check; and where onnx-go, an independent decoder, reads it, it sees
	// the same dataflow.
	if err := m.Save(p, model.SaveOptions{Check: validate.CheckGraph}); err != nil {
		t.Fatal(err)
	}
	if r := validate.ReadOnnxGo(p); r.Decoded && !r.Agrees {
		t.Errorf("%s: %s", name, r)
	}
	return p
}

// Inputs draws the inputs of one run: ids uniformly in each input's
// range, negative ones included; a bool input is true on even trials; an
// input with a Fill is filled as it says.
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
		if in.Fill == fixtures.FillNormal {
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			out[in.Name] = ort.HostTensor{Shape: shape, Data: v}
			continue
		}
		if in.Elem == onnxpb.TensorProto_BOOL {
			out[in.Name] = ort.HostTensor{Shape: shape, Data: []bool{trial%2 == 0}}
			continue
		}
		v := make([]int64, n)
		for i := range v {
			v[i] = fillValue(in, i, rng)
		}
		switch in.Elem {
		case onnxpb.TensorProto_INT32:
			out[in.Name] = ort.HostTensor{Shape: shape, Data: convert[int32](v)}
		case onnxpb.TensorProto_FLOAT:
			out[in.Name] = ort.HostTensor{Shape: shape, Data: convert[float32](v)}
		default:
			out[in.Name] = ort.HostTensor{Shape: shape, Data: v}
		}
	}
	return out
}

// fillValue is element i of input in.
func fillValue(in fixtures.Input, i int, rng *rand.Rand) int64 {
	switch in.Fill {
	case fixtures.FillOnes:
		return 1
	case fixtures.FillZeros:
		return 0
	case fixtures.FillPositions:
		return int64(i) % in.Shape[len(in.Shape)-1]
	case fixtures.FillOffsets:
		return int64(i) * in.High / in.Shape[0]
	}
	return in.Low + rng.Int64N(in.High-in.Low)
}

func convert[T int32 | float32](v []int64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}
