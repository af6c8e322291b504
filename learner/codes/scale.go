package codes

import "math"

// Float32Exp is the power of two by which values whose largest finite
// magnitude is amax are divided to be held in float32 without overflow or
// underflow: 0 when amax is zero, not finite, or within float32's normal
// range (such values are held as they are), else the exponent that brings
// amax into [0.5, 1). A float64 table or codebook beyond float32's range is
// held as float32 values times 2^exp (model.Matrix.Exp, Codebook.Exp): the
// learner is scale-invariant by powers of two, so it learns the same codes
// as for the table brought into range.
func Float32Exp(amax float64) int {
	if amax == 0 || math.IsNaN(amax) || math.IsInf(amax, 0) || amax >= 0x1p-126 && amax <= math.MaxFloat32 {
		return 0
	}
	_, e := math.Frexp(amax)
	return e
}

// ScaledFloat32s returns the n values at(0), ..., at(n-1) divided by 2^exp
// and rounded to float32, with exp = Float32Exp of their largest finite
// magnitude. With exp 0 each value is just rounded to float32. Values that
// are not finite stay so.
func ScaledFloat32s(n int, at func(int) float64) ([]float32, int) {
	var amax float64
	for i := range n {
		if a := math.Abs(at(i)); a > amax && !math.IsInf(a, 0) {
			amax = a
		}
	}
	exp := Float32Exp(amax)
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(math.Ldexp(at(i), -exp))
	}
	return out, exp
}
