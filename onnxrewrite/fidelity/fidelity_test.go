package fidelity

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

func ids(rows, cols int64) ort.HostTensor {
	v := make([]int64, rows*cols)
	for i := range v {
		v[i] = int64(i)
	}
	return ort.HostTensor{Shape: []int64{rows, cols}, Data: v}
}

// HoldBack keeps the first rows and holds back the last fifth (at least
// one) of every input alike, and refuses inputs it cannot split.
func TestHoldBack(t *testing.T) {
	for _, tc := range []struct {
		name       string
		in         map[string]ort.HostTensor
		keep, held int64
		err        string
	}{
		{"512 rows", map[string]ort.HostTensor{"ids": ids(512, 3)}, 410, 102, ""},
		{"4 rows, one held", map[string]ort.HostTensor{"ids": ids(4, 2), "mask": ids(4, 2)}, 3, 1, ""},
		{"one row", map[string]ort.HostTensor{"ids": ids(1, 2)}, 0, 0, "want at least 2, have 1"},
		{"rows differ", map[string]ort.HostTensor{"a": ids(4, 2), "b": ids(5, 2)}, 0, 0, "not the others' 4 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keep, held, err := HoldBack(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for name, t0 := range tc.in {
				k, h := keep[name], held.Inputs[name]
				all := t0.Data.([]int64)
				got := append(slices.Clone(k.Data.([]int64)), h.Data.([]int64)...)
				if k.Shape[0] != tc.keep || h.Shape[0] != tc.held || !slices.Equal(got, all) {
					t.Errorf("%s: kept %v, held %v: want %d then %d rows, in order", name, k.Shape, h.Shape, tc.keep, tc.held)
				}
			}
			if !strings.Contains(held.Source, "last") || !strings.Contains(held.Source, "rows") {
				t.Errorf("source %q does not say what was held back", held.Source)
			}
		})
	}
}

// better ranks by fidelity, then cosine, then fewer bytes; NaN never wins.
func TestBetter(t *testing.T) {
	p := func(f, c float64, b int64) Point { return Point{Fidelity: f, Cosine: c, Bytes: b} }
	for _, tc := range []struct {
		name string
		a, b Point
		want bool
	}{
		{"higher fidelity", p(0.99, 0.9, 100), p(0.98, 1, 10), true},
		{"lower fidelity", p(0.98, 1, 10), p(0.99, 0.9, 100), false},
		{"tie, higher cosine", p(1, 0.999, 100), p(1, 0.99, 10), true},
		{"tie, smaller", p(1, 0.99, 10), p(1, 0.99, 100), true},
		{"tie, larger", p(1, 0.99, 100), p(1, 0.99, 10), false},
		{"NaN", p(math.NaN(), 1, 1), p(0.5, 0.5, 100), false},
		{"over NaN", p(0.5, 0.5, 100), p(math.NaN(), 1, 1), true},
	} {
		if got := better(tc.a, tc.b); got != tc.want {
			t.Errorf("%s: better = %v, want %v", tc.name, got, tc.want)
		}
	}
}
