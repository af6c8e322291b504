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
	exp  int       // table = x * 2^exp
	x    []float32 // the scaled table (the input itself when exp is 0)
	zero bool      // every value is 0
}

func newScaling(data []float32) *scaling {
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
	if s.exp == 0 {
		return s
	}
	s.x = make([]float32, len(data))
	for i, v := range data {
		s.x[i] = float32(math.Ldexp(float64(v), -s.exp))
	}
	return s
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
