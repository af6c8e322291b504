package learner

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Defaults of the additive quantiser.
const (
	defaultIterations  = 18
	defaultICMSweeps   = 4
	defaultRestarts    = 12
	defaultPerturb     = 4
	defaultAnneal      = 0.3
	defaultKMeansIters = 8
	defaultRidge       = 1e-6
	// maxCholeskyMK bounds the size of the joint least-squares system; larger
	// M*K fall back to per-codebook block updates.
	maxCholeskyMK = 2048
)

// aq holds the state of the additive quantiser.
type aq struct {
	V, D, M, K, MK int
	x              []float32 // [V, D]
	w              []float64 // nil: all 1
	codes          []uint16  // [V, M]
	cb             []float32 // [M*K, D]
	threads        int
	seed           int64
	cfg            Config
	progress       func(Progress)
}

func (a *aq) weight(i int) float64 {
	if a.w == nil {
		return 1
	}
	return a.w[i]
}

// newAQ returns the quantiser's state for the [V, D] table x, with all
// codes 0 and a zero codebook.
func newAQ(x []float32, V, D int, cfg Config) *aq {
	a := &aq{V: V, D: D, M: cfg.M, K: cfg.K, MK: cfg.M * cfg.K, x: x,
		codes: make([]uint16, V*cfg.M), cb: make([]float32, cfg.M*cfg.K*D),
		threads: cfg.Threads, seed: cfg.Seed, cfg: cfg, progress: cfg.Progress}
	if a.progress == nil {
		a.progress = func(Progress) {}
	}
	if cfg.Weights != nil {
		a.w = make([]float64, V)
		for i, v := range cfg.Weights {
			a.w[i] = float64(v)
		}
	}
	return a
}

// encodeOpts are the knobs of one encoding pass.
type encodeOpts struct {
	sweeps, restarts, perturb int
}

func (c Config) encodeOpts() encodeOpts {
	o := encodeOpts{sweeps: orDefault(c.ICMSweeps, defaultICMSweeps), restarts: c.Restarts,
		perturb: orDefault(c.Perturb, defaultPerturb)}
	if o.restarts == 0 {
		o.restarts = defaultRestarts
	} else if o.restarts < 0 {
		o.restarts = 0
	}
	return o
}

// learnAQ runs residual k-means initialisation followed by rounds of
// least-squares codebook refits and ICM re-encoding with perturbation
// restarts, until the rounds are done, a round gains almost nothing, the
// target error is reached or time is up. Every step only lowers the error,
// so when time runs out mid-step the current codes and codebook are the best
// found.
func learnAQ(st *stopper, data []float32, V, D int, cfg Config) (learned, error) {
	a := newAQ(data, V, D, cfg)
	anneal := cfg.Anneal
	if anneal == 0 {
		anneal = defaultAnneal
	}
	noisy := false // the codebook holds annealing noise
	done := func(why string) (learned, error) {
		// The noise goes before returning early: a refit for the codes
		// only lowers the error.
		if noisy {
			if err := a.refit(st.parent); err != nil {
				return learned{}, fmt.Errorf("final codebook refit: %w", err)
			}
		}
		return learned{a.codes, a.cb, why}, nil
	}
	iters := orDefault(cfg.Iterations, defaultIterations)
	prev, err := a.initResidual(st.ctx, orDefault(cfg.KMeansIters, defaultKMeansIters))
	if st.timedOut(err) {
		return done(st.limitMsg())
	} else if err != nil {
		return learned{}, fmt.Errorf("residual k-means initialisation: %w", err)
	}
	if st.reached(prev) {
		return done(st.targetMsg())
	}
	opts := cfg.encodeOpts()
	for it := 0; it < iters; it++ {
		if err := a.refit(st.ctx); st.timedOut(err) {
			return done(st.limitMsg())
		} else if err != nil {
			return learned{}, fmt.Errorf("codebook refit %d: %w", it+1, err)
		}
		noisy = false
		if T := math.Sqrt(1 - float64(it+1)/float64(iters)); anneal > 0 && T > 0 {
			a.perturbCodebook(anneal*T, it)
			noisy = true
		}
		loss, err := a.encode(st.ctx, it+1, opts)
		if st.timedOut(err) {
			return done(st.limitMsg())
		} else if err != nil {
			return learned{}, fmt.Errorf("encoding round %d: %w", it+1, err)
		}
		a.progress(Progress{Phase: "refine", Step: it + 1, Total: iters, Loss: loss})
		switch {
		case st.reached(loss):
			return done(st.targetMsg())
		case !noisy && prev-loss <= convergedGain*prev:
			return done(stoppedConverged)
		}
		prev = loss
	}
	return done(fmt.Sprintf("completed %d rounds", iters))
}

// perturbCodebook adds Gaussian noise to every codeword (stochastic
// relaxation, as in LSQ++): the noise standard deviation is scale times the
// root mean squared reconstruction error per coordinate, so that re-encoding
// against the noisy codebook can leave poor local optima. The noise shrinks
// to zero over the rounds.
func (a *aq) perturbCodebook(scale float64, round int) {
	D, M, K := a.D, a.M, a.K
	se := a.sumRows(func(i int) float64 {
		codes := a.codes[i*M : (i+1)*M]
		var e float64
		for j, x := range a.x[i*D : (i+1)*D] {
			var y float32
			for m, c := range codes {
				y += a.cb[(m*K+int(c))*D+j]
			}
			d := float64(y - x)
			e += d * d
		}
		return e
	})
	sw := a.sumRows(func(int) float64 { return 1 })
	sd := scale * math.Sqrt(se/(sw*float64(a.D))/float64(a.M))
	rng := rand.New(rand.NewPCG(uint64(a.seed), uint64(round)+0xa11ea1))
	for i := range a.cb {
		a.cb[i] += float32(rng.NormFloat64() * sd)
	}
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}
