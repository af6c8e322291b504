package learner

import (
	"fmt"
	"math"
)

// scaling divides the table by a power of two near its root mean square,
// so that learning sees values of order 1 whatever the table's scale: the
// methods' float32 arithmetic neither overflows (1e20 tables) nor
// underflows (1e-30 tables). Division by a power of two is exact for normal
// floats, so a table times 2^k gives the same scaled table and the same
// codes.
type scaling struct {
	exp     int       // table = x * 2^exp
	x       []float32 // the scaled table (the input itself when exp is 0)
	zero    bool      // every value is 0
	inPlace bool      // x is the input, scaled in place until restore
}

// newScaling scales data; with inPlace it scales data itself when every
// value comes back exactly (restore undoes it), and copies otherwise.
func newScaling(data []float32, inPlace bool) *scaling {
	var ss float64
	for _, v := range data {
		ss += float64(v) * float64(v)
	}
	s := &scaling{x: data}
	if ss == 0 {
		s.zero = true
		return s
	}
	// rms = f * 2^exp with f in [0.5, 1): the scaled rms is in [0.5, 1).
	_, s.exp = math.Frexp(math.Sqrt(ss / float64(len(data))))
	if s.exp == 0 || inPlace && s.scaleInPlace() {
		return s
	}
	s.x = make([]float32, len(data))
	ldexp32(s.x, data, -s.exp)
	return s
}

// ldexp32 sets dst[i] = src[i] * 2^exp, rounded to float32 (exact for
// normal results); dst may be src.
func ldexp32(dst, src []float32, exp int) {
	for i, v := range src {
		dst[i] = float32(math.Ldexp(float64(v), exp))
	}
}

// scaleInPlace scales s.x, the input, in place and reports true when every
// value comes back exactly (always, unless a tiny value of a large table
// underflows when scaled down); otherwise it leaves the input as it was.
func (s *scaling) scaleInPlace() bool {
	for i, v := range s.x {
		f := float32(math.Ldexp(float64(v), -s.exp))
		if float32(math.Ldexp(float64(f), s.exp)) != v {
			ldexp32(s.x[:i], s.x[:i], s.exp)
			return false
		}
		s.x[i] = f
	}
	s.inPlace = true
	return true
}

// restore gives the input back its values when it was scaled in place; it
// does nothing after the first call.
func (s *scaling) restore() {
	if !s.inPlace {
		return
	}
	ldexp32(s.x, s.x, s.exp)
	s.inPlace = false
}

// unscale maps a codebook learned on the scaled table back to the table's
// scale.
func (s *scaling) unscale(cb []float32) ([]float32, error) {
	if s.exp == 0 {
		return cb, nil
	}
	out := make([]float32, len(cb))
	for i, v := range cb {
		f := float32(math.Ldexp(float64(v), s.exp))
		if math.IsInf(float64(f), 0) {
			return nil, fmt.Errorf("codebook value %g x 2^%d overflows float32", v, s.exp)
		}
		out[i] = f
	}
	return out, nil
}
