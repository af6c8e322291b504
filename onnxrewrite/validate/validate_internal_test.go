package validate

import (
	"math"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// The decision gate passes an output outside the tolerance only when its
// decisions agree and its values point the same way: hidden states whose
// argmax is always one dimension of huge magnitude agree on every
// "decision" however wrong the rest is.
func TestCompareOutputGate(t *testing.T) {
	// 4 rows of 8: dimension 0 dominates in both; the rest differ.
	orig := []float32{}
	wrong := []float32{}
	close := []float32{}
	for r := 0; r < 4; r++ {
		for c := 0; c < 8; c++ {
			v := float32((r*8+c)%5) - 2
			if c == 0 {
				v = 10
			}
			orig = append(orig, v)
			w := -v
			if c == 0 {
				w = 9
			}
			wrong = append(wrong, w)
			close = append(close, v*1.01)
		}
	}
	shape := []int64{4, 8}
	def, err := compareTolerances(DefaultCompareOptions())
	if err != nil {
		t.Fatal(err)
	}
	nf := DefaultCompareOptions()
	nf.MinCosine = -1
	noFloor, err := compareTolerances(nf)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		got    []float32
		tol    tolerances
		pass   bool
		reason string
	}{
		{"far apart, argmax agrees", wrong, def, false, "the cosine"},
		{"far apart, no cosine floor", wrong, noFloor, true, "argmax decisions agree 100.00% >= 99.00%"},
		{"close, outside the tolerance", close, def, true, "with cosine 1.0000 >= 0.99"},
	} {
		o := compareOutput("h", ort.HostTensor{Shape: shape, Data: tc.got}, ort.HostTensor{Shape: shape, Data: orig}, tc.tol)
		if o.WithinTolerance {
			t.Fatalf("%s: within tolerance: the case tests nothing", tc.name)
		}
		if o.Agreement == nil || *o.Agreement != 1 || o.DecisionKind != "argmax" {
			t.Fatalf("%s: agreement %v (%s), want argmax 1", tc.name, o.Agreement, o.DecisionKind)
		}
		if o.Pass != tc.pass || !strings.Contains(o.Reason, tc.reason) {
			t.Errorf("%s: pass %v (%s), want %v and %q (cosine %.4f)", tc.name, o.Pass, o.Reason, tc.pass, tc.reason, o.Cosine)
		}
	}
	if _, err := compareTolerances(CompareOptions{MinCosine: 1.5}); err == nil {
		t.Error("a minimum cosine above 1 was accepted")
	}
}

// compareOutput reports KL(original || rewritten) over the last axis for
// argmax outputs: of the softmax for logits, of the rows themselves for
// probabilities; none for outputs that make no argmax decisions.
func TestCompareOutputKL(t *testing.T) {
	ln3 := float32(math.Log(3))
	// p = (3/4, 1/4), q = (1/2, 1/2): KL = 3/4 ln(3/2) + 1/4 ln(1/2).
	want := 0.75*math.Log(1.5) + 0.25*math.Log(0.5)
	cases := []struct {
		name      string
		rewritten []float32
		original  []float32
		shape     []int64
		kl        float64 // -1: no KL
	}{
		{"logits", []float32{0, 0}, []float32{ln3, 0}, []int64{1, 2}, want},
		{"probabilities", []float32{0.5, 0.5}, []float32{0.75, 0.25}, []int64{1, 2}, want},
		{"identical", []float32{1, 2, 3, 4}, []float32{1, 2, 3, 4}, []int64{2, 2}, 0},
		{"one value a row", []float32{0.2}, []float32{0.9}, []int64{1, 1}, -1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tol := tolerances{minAgree: 0.99, minCos: 0.99}
			o := compareOutput("out", ort.HostTensor{Shape: c.shape, Data: c.rewritten, Elem: onnxpb.TensorProto_FLOAT},
				ort.HostTensor{Shape: c.shape, Data: c.original, Elem: onnxpb.TensorProto_FLOAT}, tol)
			switch {
			case c.kl < 0 && o.KL != nil:
				t.Errorf("KL %g, want none", *o.KL)
			case c.kl >= 0 && (o.KL == nil || math.Abs(*o.KL-c.kl) > 1e-6):
				t.Errorf("KL %v, want %g", o.KL, c.kl)
			}
		})
	}
}
