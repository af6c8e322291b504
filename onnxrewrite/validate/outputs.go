package validate

import (
	"fmt"
	"math"
	"slices"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// tolerances are the gate's settings after defaults: minAgree <= 0 turns
// the decision gate off, minCos -1 is no cosine floor.
type tolerances struct {
	rtol, atol, minAgree, minCos float64
}

func compareTolerances(opts CompareOptions) (tolerances, error) {
	for _, v := range []float64{opts.RTol, opts.ATol, opts.MinAgreement, opts.MinCosine} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return tolerances{}, fmt.Errorf("tolerances must be finite numbers, got %v", v)
		}
	}
	switch {
	case opts.RTol < 0 || opts.ATol < 0:
		return tolerances{}, fmt.Errorf("tolerances rtol %g and atol %g: want 0 or more", opts.RTol, opts.ATol)
	case opts.MinAgreement > 1:
		return tolerances{}, fmt.Errorf("minimum agreement %g is above 1", opts.MinAgreement)
	case opts.MinCosine > 1:
		return tolerances{}, fmt.Errorf("minimum cosine %g is above 1", opts.MinCosine)
	case opts.Samples < 0:
		return tolerances{}, fmt.Errorf("samples %d is negative", opts.Samples)
	}
	t := tolerances{rtol: opts.RTol, atol: opts.ATol, minAgree: opts.MinAgreement, minCos: opts.MinCosine}
	if t.minCos < 0 {
		t.minCos = -1
	}
	return t, nil
}

// hostFloats widens a tensor's elements to float64; bools are 0 or 1.
func hostFloats(t ort.HostTensor) ([]float64, bool) {
	switch d := t.Data.(type) {
	case []float32:
		return convertFloats(d), true
	case []float64:
		return d, true
	case []int64:
		return convertFloats(d), false
	case []int32:
		return convertFloats(d), false
	case []uint8:
		return convertFloats(d), false
	case []uint16:
		switch t.Elem {
		case model.Float16:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = float64(half.ToFloat32(v))
			}
			return out, true
		case model.BFloat16:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = float64(half.BFloat16ToFloat32(v))
			}
			return out, true
		}
		return convertFloats(d), false
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, false
	}
	return nil, false
}

func convertFloats[T float32 | float64 | int64 | int32 | uint8 | uint16](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// compareOutput compares output a of the rewrite with b of the original.
func compareOutput(name string, a, b ort.HostTensor, tol tolerances) OutputReport {
	o := OutputReport{Name: name, DType: model.DTypeName(b.Elem), Shape: slices.Clone(b.Shape)}
	if !slices.Equal(a.Shape, b.Shape) {
		o.Reason = fmt.Sprintf("shape %v, the original's is %v", a.Shape, b.Shape)
		return o
	}
	if sa, ok := a.Data.([]string); ok {
		return compareStrings(o, sa, b)
	}
	x, isFloat := hostFloats(a)
	y, _ := hostFloats(b)
	if x == nil || y == nil || len(x) != len(y) {
		o.Reason = fmt.Sprintf("cannot compare outputs of types %T and %T", a.Data, b.Data)
		return o
	}
	var dot, nx, ny float64
	finite := 0
	for i := range x {
		xf, yf := !math.IsNaN(x[i]) && !math.IsInf(x[i], 0), !math.IsNaN(y[i]) && !math.IsInf(y[i], 0)
		if !xf || !yf {
			same := (math.IsNaN(x[i]) && math.IsNaN(y[i])) || x[i] == y[i]
			if !same {
				o.NonFiniteMismatches++
			}
			continue
		}
		finite++
		o.MaxAbsDiff = max(o.MaxAbsDiff, math.Abs(x[i]-y[i]))
		o.MaxAbsOriginal = max(o.MaxAbsOriginal, math.Abs(y[i]))
		dot += x[i] * y[i]
		nx += x[i] * x[i]
		ny += y[i] * y[i]
	}
	switch {
	case nx == 0 && ny == 0:
		o.Cosine = 1
	case nx == 0 || ny == 0:
		o.Cosine = 0
	default:
		o.Cosine = dot / math.Sqrt(nx) / math.Sqrt(ny)
	}
	o.MaxRelDiff = o.MaxAbsDiff
	if o.MaxAbsOriginal > 0 {
		o.MaxRelDiff = o.MaxAbsDiff / o.MaxAbsOriginal
	}
	o.Tolerance = tol.atol + tol.rtol*o.MaxAbsOriginal
	o.WithinTolerance = o.NonFiniteMismatches == 0 && o.MaxAbsDiff <= o.Tolerance

	if o.NonFiniteMismatches > 0 || (finite == 0 && len(x) > 0) {
		return nonFinite(o, finite, len(x))
	}
	agree, total := decisions(x, y, b.Shape, isFloat, &o)
	if total > 0 {
		share := float64(agree) / float64(total)
		o.Agreement = &share
		o.Decisions = total
	}
	if o.DecisionKind == "argmax" {
		// Logits or probabilities over the last axis: how far the
		// rewrite's distribution is from the original's.
		last := int(b.Shape[len(b.Shape)-1])
		kl := MeanKL(y, x, last, isProbabilities(y, last))
		o.KL = &kl
	}
	cmp := ">"
	if o.MaxAbsDiff <= o.Tolerance {
		cmp = "<="
	}
	numeric := fmt.Sprintf("max abs diff %.3g %s tolerance %.3g", o.MaxAbsDiff, cmp, o.Tolerance)
	switch {
	case o.WithinTolerance:
		o.Pass = true
		o.Reason = "within tolerance: " + numeric
	case o.Agreement != nil && tol.minAgree > 0 && *o.Agreement >= tol.minAgree && o.Cosine >= tol.minCos:
		o.Pass = true
		o.Reason = fmt.Sprintf("outside tolerance (%s) but %s decisions agree %.2f%% >= %.2f%%", numeric, o.DecisionKind, 100**o.Agreement, 100*tol.minAgree)
		if tol.minCos > -1 {
			o.Reason += fmt.Sprintf(" with cosine %.4f >= %g", o.Cosine, tol.minCos)
		}
	case o.Agreement != nil && tol.minAgree > 0 && *o.Agreement >= tol.minAgree:
		o.Reason = fmt.Sprintf("outside tolerance (%s); %s decisions agree %.2f%% but the cosine %.4f is under %g, so the decisions do not decide", numeric, o.DecisionKind, 100**o.Agreement, o.Cosine, tol.minCos)
	case o.Agreement != nil && tol.minAgree > 0:
		o.Reason = fmt.Sprintf("outside tolerance (%s) and %s decisions agree %.2f%% < %.2f%%", numeric, o.DecisionKind, 100**o.Agreement, 100*tol.minAgree)
	default:
		o.Reason = "outside tolerance: " + numeric
	}
	return o
}

// decisions counts agreeing decisions of a classifier-like output and sets
// o.DecisionKind; it returns 0, 0 for other outputs.
func decisions(x, y []float64, shape []int64, isFloat bool, o *OutputReport) (agree, total int) {
	if !isFloat {
		o.DecisionKind = "equal"
		for i := range x {
			if x[i] == y[i] {
				agree++
			}
		}
		return agree, len(x)
	}
	if len(shape) < 2 || len(x) == 0 {
		return 0, 0
	}
	last := int(shape[len(shape)-1])
	switch {
	case last > 1:
		o.DecisionKind = "argmax"
		for i := 0; i+last <= len(x); i += last {
			if argmax(x[i:i+last]) == argmax(y[i:i+last]) {
				agree++
			}
			total++
		}
		return agree, total
	case last == 1:
		for _, v := range y {
			if !(v >= 0 && v <= 1) {
				return 0, 0
			}
		}
		o.DecisionKind = "threshold_0.5"
		for i := range x {
			if (x[i] > 0.5) == (y[i] > 0.5) {
				agree++
			}
		}
		return agree, len(x)
	}
	return 0, 0
}

// argmax is the index of the first largest value, NaNs skipped.
func argmax(v []float64) int {
	best := -1
	for i, x := range v {
		if math.IsNaN(x) {
			continue
		}
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}
