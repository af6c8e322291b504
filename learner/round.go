package learner

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"slices"

	"github.com/embshrink/embshrink/internal/half"
)

func isRounded(dtype string) bool { return dtype == DTypeFloat16 || dtype == DTypeBFloat16 }

// roundDType rounds v to the nearest value of dtype ("float16" or
// "bfloat16"; anything else leaves v as it is), through internal/half, the
// one 16-bit conversion of the module. Values past float32's range become
// infinities, which the callers refuse.
func roundDType(v float64, dtype string) float64 {
	f := float32(v)
	switch dtype {
	case DTypeFloat16:
		return float64(half.ToFloat32(half.FromFloat32(f)))
	case DTypeBFloat16:
		return float64(half.BFloat16ToFloat32(half.BFloat16FromFloat32(f)))
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
// than the learned codes with a naively rounded codebook. (tailPasses
// counts its two encoding passes.)
func roundCodebook(ctx context.Context, sc *scaling, out *learned, V, D int, cfg Config) error {
	a := newAQ(sc.x, V, D, cfg)
	copy(a.codes, out.codes)
	var err error
	if a.cb, err = roundScaled(out.codebook, sc.exp, cfg.CodebookDType); err != nil {
		return err
	}
	opts := cfg.encodeOpts(reencodeRestarts)
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

// Reencode returns the codes of the [V, D] rows data that fit the codebook
// enc.Codebook best, found by the refinement's own ICM passes (with cfg's
// sweeps, restarts and seed) from enc.Codes: for a caller that changed the
// codebook itself, rounding it in another space, say, and must re-encode.
// cfg.Weights weigh the rows; the result does not depend on cfg.Threads.
func Reencode(ctx context.Context, data []float32, V, D int, enc Encoded, cfg Config) ([]uint16, error) {
	cfg.M, cfg.K = enc.M, enc.K
	if err := validate(data, V, D, cfg); err != nil {
		return nil, fmt.Errorf("learner: %w", err)
	}
	if len(enc.Codes) != V*enc.M || len(enc.Codebook) != enc.M*enc.K*D {
		return nil, fmt.Errorf("learner: codes %d and codebook %d values do not fit [%d, %d] at M=%d K=%d", len(enc.Codes), len(enc.Codebook), V, D, enc.M, enc.K)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.GOMAXPROCS(0)
	}
	a := newAQ(data, V, D, cfg)
	copy(a.codes, enc.Codes)
	copy(a.cb, enc.Codebook)
	if _, err := a.encode(ctx, roundRound, cfg.encodeOpts(reencodeRestarts)); err != nil {
		return nil, err
	}
	return a.codes, nil
}
