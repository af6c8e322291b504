package learner

import (
	"context"
	"slices"
	"testing"
)

// TestRefitCG checks that the conjugate-gradient refit lowers the error of
// the codes it is given to within a hair of the exact least-squares refit,
// and never above where it started.
func TestRefitCG(t *testing.T) {
	const V, D = 3000, 16
	data := gaussian(V, D, 5)
	for _, tc := range []struct{ M, K int }{{3, 64}, {2, 256}, {3, 256}} {
		cfg := Config{M: tc.M, K: tc.K, Seed: 3, Threads: 2}
		a := newAQ(data, V, D, cfg)
		if _, err := a.initResidual(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		// A noisy codebook, as after an annealed round.
		a.perturbCodebook(0.5, 0)
		start, ec, ee := refitBoth(t, a, a.cb, cgIters)
		if !(ec < start) || ec > ee*1.01 {
			t.Errorf("%dx%d: CG refit error %.5f, want below the start's %.5f and within 1%% of the exact refit's %.5f", tc.M, tc.K, ec, start, ee)
		}
	}
}

// TestRefitCGWarm checks the refinement's warm refit: codes re-encoded
// against a noisy codebook, refitted in warmCGSteps steps from the
// codebook before the noise, come within 2% of the exact refit's error
// (0.9% here).
func TestRefitCGWarm(t *testing.T) {
	const V, D = 3000, 16
	data := gaussian(V, D, 6)
	for _, tc := range []struct{ M, K int }{{3, 256}, {2, 512}} {
		a := newAQ(data, V, D, Config{M: tc.M, K: tc.K, Seed: 4, Threads: 2})
		if _, err := a.initResidual(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		clean := slices.Clone(a.cb)
		a.perturbCodebook(0.5, 0)
		if _, err := a.encode(context.Background(), 1, encodeOpts{sweeps: 4, restarts: 1, perturb: 1}); err != nil {
			t.Fatal(err)
		}
		start, ew, ee := refitBoth(t, a, clean, warmCGSteps)
		if !(ew < start) || ew > ee*1.02 {
			t.Errorf("%dx%d: warm refit error %.5f, want below the clean start's %.5f and within 2%% of the exact refit's %.5f", tc.M, tc.K, ew, start, ee)
		}
	}
}

// refitBoth refits a's codebook for its codes exactly and by steps
// conjugate-gradient steps from the codebook from (a is left as it is), and
// returns the relative errors of from, of the CG refit and of the exact one.
func refitBoth(t *testing.T, a *aq, from []float32, steps int) (start, cg, exact float64) {
	t.Helper()
	errOf := func(b *aq) float64 {
		return Measure(a.x, a.V, a.D, Encoded{M: a.M, K: a.K, Codes: b.codes, Codebook: b.cb}, nil).RelSqErr
	}
	ex, c := *a, *a
	ex.cb, c.cb = slices.Clone(a.cb), slices.Clone(from)
	start = errOf(&c)
	if err := ex.refitExact(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.refitCG(context.Background(), steps); err != nil {
		t.Fatal(err)
	}
	return start, errOf(&c), errOf(&ex)
}
