package validate

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// TestCompareNonFinite: NaN on one side is a NaN difference and a failure
// even when the decisions agree; all-NaN on both sides is not a pass; the
// JSON report says "NaN".
func TestCompareNonFinite(t *testing.T) {
	nan := float32(math.NaN())
	f := func(v ...float32) ort.HostTensor {
		return ort.HostTensor{Shape: []int64{int64(len(v)) / 2, 2}, Elem: model.Float32, Data: v}
	}
	tol := tolerances{rtol: DefaultRTol, atol: DefaultATol, minAgree: DefaultMinAgreement, minCos: DefaultMinCosine}
	cases := []struct {
		name   string
		a, b   ort.HostTensor
		pass   bool
		reason string
	}{
		{"equal", f(1, 2, 3, 4), f(1, 2, 3, 4), true, "within tolerance"},
		{"NaN in the rewrite", f(1, nan, 3, 4), f(1, 2, 3, 4), false, "max abs diff NaN"},
		{"NaN in the original", f(1, 2, 3, 4), f(nan, 2, 3, 4), false, "max abs diff NaN"},
		{"all NaN in both", f(nan, nan, nan, nan), f(nan, nan, nan, nan), false, "not comparable"},
		{"NaN at the same places", f(nan, 2, 3, 4), f(nan, 2, 3, 4), true, "within tolerance"},
	}
	for _, c := range cases {
		o := compareOutput("y", c.a, c.b, tol)
		if o.Pass != c.pass || !strings.Contains(o.Reason, c.reason) {
			t.Errorf("%s: pass %v reason %q, want %v and %q", c.name, o.Pass, o.Reason, c.pass, c.reason)
		}
		b, err := json.Marshal(o)
		if err != nil {
			t.Errorf("%s: JSON: %v", c.name, err)
		}
		if !c.pass && !strings.Contains(string(b), `"max_abs_diff":"NaN"`) {
			t.Errorf("%s: JSON %s lacks a NaN max_abs_diff", c.name, b)
		}
	}
}
