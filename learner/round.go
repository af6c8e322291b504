package learner

import (
	"context"
	"fmt"
	"math"
	"slices"
)

func isRounded(dtype string) bool { return dtype == DTypeFloat16 || dtype == DTypeBFloat16 }

// roundFloat rounds v to the nearest value of a binary floating-point type
// with mant explicit mantissa bits, smallest normal exponent minExp and
// largest finite value maxVal, ties to even (IEEE 754 round to nearest);
// past the largest finite value it returns an infinity. Subnormals are kept
// (gradual underflow): below 2^minExp the spacing stays 2^(minExp-mant).
func roundFloat(v float64, mant, minExp int, maxVal float64) float64 {
	if v == 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return v
	}
	a := math.Abs(v)
	_, e := math.Frexp(a) // a in [2^(e-1), 2^e)
	q := max(e-1, minExp) - mant
	r := math.Ldexp(math.RoundToEven(math.Ldexp(a, -q)), q)
	if r > maxVal {
		r = math.Inf(1)
	}
	return math.Copysign(r, v)
}

// roundDType rounds v to the nearest value of dtype ("float16" or
// "bfloat16"; anything else leaves v as it is).
func roundDType(v float64, dtype string) float64 {
	switch dtype {
	case DTypeFloat16:
		return roundFloat(v, 10, -14, 65504)
	case DTypeBFloat16:
		return roundFloat(v, 7, -126, math.Ldexp(255, 120)) // (2 - 2^-7) * 2^127
	}
	return v
}

// roundScaled rounds a codebook learned on a table scaled by 2^-exp so that
// its values times 2^exp are exactly representable in dtype.
func roundScaled(cb []float32, exp int, dtype string) ([]float32, error) {
	out := make([]float32, len(cb))
	for i, v := range cb {
		r := roundDType(math.Ldexp(float64(v), exp), dtype)
		if math.IsInf(r, 0) {
			return nil, fmt.Errorf("codebook value %g is out of the range of %s", math.Ldexp(float64(v), exp), dtype)
		}
		out[i] = float32(math.Ldexp(r, -exp))
	}
	return out, nil
}

// roundRound numbers the encoding passes of roundCodebook, apart from the
// refinement rounds' random streams.
const roundRound = 1 << 24

// roundCodebook rounds out's codebook to cfg.CodebookDType and re-encodes
// the codes against the rounded codebook; then it tries one least-squares
// refit, rounded and re-encoded in turn, and keeps it if it measures better.
// Re-encoding only ever lowers a row's error, so the result is never worse
// than the learned codes with a naively rounded codebook.
func roundCodebook(ctx context.Context, sc *scaling, out *learned, V, D int, cfg Config) error {
	a := newAQ(sc.x, V, D, cfg)
	copy(a.codes, out.codes)
	var err error
	if a.cb, err = roundScaled(out.codebook, sc.exp, cfg.CodebookDType); err != nil {
		return err
	}
	opts := cfg.encodeOpts()
	loss, err := a.encode(ctx, roundRound, opts)
	if err != nil {
		return err
	}
	a.progress(Progress{Phase: "round", Step: 1, Total: 2, Loss: loss})
	bestCodes, bestCB := slices.Clone(a.codes), a.cb
	a.cb = slices.Clone(bestCB) // the refit writes in place
	if err := a.refit(ctx); err != nil {
		return err
	}
	if a.cb, err = roundScaled(a.cb, sc.exp, cfg.CodebookDType); err != nil {
		return err
	}
	loss2, err := a.encode(ctx, roundRound+1, opts)
	if err != nil {
		return err
	}
	if loss2 < loss {
		bestCodes, bestCB, loss = a.codes, a.cb, loss2
	}
	a.progress(Progress{Phase: "round", Step: 2, Total: 2, Loss: loss})
	out.codes, out.codebook = bestCodes, bestCB
	return nil
}
