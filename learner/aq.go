package learner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
)

// Defaults of the additive quantiser.
const (
	defaultIterations  = 16
	defaultICMSweeps   = 4
	defaultRestarts    = 12
	defaultPerturb     = 4
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

// learnAQ runs residual k-means initialisation followed by rounds of
// least-squares codebook refits and ICM re-encoding with perturbation
// restarts.
func learnAQ(ctx context.Context, data []float32, V, D int, cfg Config) ([]uint16, []float32, error) {
	a := &aq{V: V, D: D, M: cfg.M, K: cfg.K, MK: cfg.M * cfg.K, x: data,
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
	iters := orDefault(cfg.Iterations, defaultIterations)
	if _, err := a.initResidual(ctx, orDefault(cfg.KMeansIters, defaultKMeansIters)); err != nil {
		return nil, nil, fmt.Errorf("residual k-means initialisation: %w", err)
	}
	sweeps := orDefault(cfg.ICMSweeps, defaultICMSweeps)
	restarts := cfg.Restarts
	if restarts == 0 {
		restarts = defaultRestarts
	} else if restarts < 0 {
		restarts = 0
	}
	perturb := orDefault(cfg.Perturb, defaultPerturb)
	anneal := cfg.Anneal
	for it := 0; it < iters; it++ {
		if err := a.refit(ctx); err != nil {
			return nil, nil, fmt.Errorf("codebook refit %d: %w", it+1, err)
		}
		if T := math.Sqrt(1 - float64(it+1)/float64(iters)); anneal > 0 && T > 0 {
			a.perturbCodebook(anneal*T, it)
		}
		loss, err := a.encode(ctx, it+1, sweeps, restarts, perturb)
		if err != nil {
			return nil, nil, fmt.Errorf("encoding round %d: %w", it+1, err)
		}
		a.progress(Progress{Phase: "refine", Step: it + 1, Total: iters, Loss: loss})
	}
	return a.codes, a.cb, nil
}

// perturbCodebook adds Gaussian noise to every codeword (stochastic
// relaxation, as in LSQ++): the noise standard deviation is scale times the
// root mean squared reconstruction error per coordinate, so that re-encoding
// against the noisy codebook can leave poor local optima. The noise shrinks
// to zero over the rounds.
func (a *aq) perturbCodebook(scale float64, round int) {
	y := Reconstruct(a.codes, a.cb, a.V, a.D, a.M, a.K)
	var se, sw float64
	for i := 0; i < a.V; i++ {
		w := a.weight(i)
		for j := 0; j < a.D; j++ {
			d := float64(y[i*a.D+j] - a.x[i*a.D+j])
			se += w * d * d
		}
		sw += w
	}
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
