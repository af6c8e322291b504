package learner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"github.com/embshrink/embshrink/internal/freemem"
)

// Defaults of the additive quantiser.
const (
	defaultICMSweeps = 4
	// reencodeRestarts is the default number of restarts of a single
	// re-encoding pass (after rounding the codebook to float16, say).
	reencodeRestarts = 12
	// Lloyd's iterations a stage of the initialisation; most of its time is
	// the seeding (GloVe 50k at 8x256: 3 iterations, 3.5 s instead of 3.8,
	// ended at 0.2296 after 128 rounds where 8 gave 0.2298, one seed each,
	// too little to change the default; 1 iteration ended at 0.2357).
	defaultKMeansIters = 8
	defaultRidge       = 1e-6
	// maxCholeskyMK bounds the size of the joint least-squares system
	// solved by Cholesky factorisation; larger M*K refit by conjugate
	// gradients (refitCG), which give the same error: GloVe 50k at 8x256
	// (M*K = 2048), 0.2621 after 12 rounds either way, where the
	// factorisation took 0.7 s of a core a round and 6 CG steps 0.26 s;
	// GloVe's first 16 columns at 4x256 (M*K = 1024), 0.0730 after 128
	// rounds in 58 s of CPU by Cholesky, 45 s by CG.
	maxCholeskyMK = 512
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
	sqErr          float64   // the weighted squared error of the last encoding
	normSum        []float64 // chunkNorms' result, kept
	sums           []sumPart // scatterSums' parts, kept between calls
	cross          []uint16  // crossTerms' float16 result, kept between rounds
	cross8         []int8    // or its int8 values (crossTab)
	scale8         []float32 // and their scales
	xq             []int16   // the table quantised (quantTable), kept
	xmul           []float32 // its rows' scales
	xqBits         int       // their bits
	x8             []int8    // xq as bytes (byteTable), kept
	xcorr          []int32   // their rows' corrections
	// prodBits is the bits of the encoder's products: i16Bits(D) until
	// learnAQ chooses them by productBits.
	prodBits int
	cfg      Config
	progress func(Progress)
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
		codes: make([]uint16, V*cfg.M), cb: make([]float32, cfg.M*cfg.K*D), prodBits: i16Bits(D),
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

// Many short annealed rounds beat few long ones at the same time (GloVe
// 100-d, first 50,000 rows, 32x16, seed 1, this build, one run each:
// 24 rounds of 12 restarts, 4 codes re-drawn, anneal 0.3: 0.1514 in 30 s;
// 48 x 4 restarts (5 codes) 0.1504 in 32 s; 64 x 3 (6) 0.1493 in 41 s, at
// anneal 0.45 0.1491, at 0.2 0.1507; 80 x 2 (7) 0.1493 in 42 s; 96 x 2 (6)
// 0.1484 in 44 s, at anneal 0.45 0.1474 in 45 s; 96 x 1 0.1515, 128 x 1
// 0.1484 in 47 s; 96 x 3 (5) 0.1472 in 54 s; 96 x 24 (5) 0.1404 in 284 s).
// The other real tables at hand agree (96 x 2 against 24 x 12 at 4 codes
// and anneal 0.3): vibe's [15000, 64] 16x16 0.2799 vs 0.2802, 8x16 0.5590
// vs 0.5602; stories260K's [512, 64] 16x16 0.0041 vs 0.0042, 8x16 0.0783 vs
// 0.0811. The synthetic example table (fixtures, [4096, 64], unstructured)
// does not: 8x16 0.0356 vs 0.0344, 16x16 0.0184 vs 0.0175. With one greedy
// k-means++ trial instead of four plain ones (see defaultTrials) the time
// saved buys rounds: 96 rounds 0.1479, 110 0.1464, 124 0.1451, 128 0.1447
// (seed 2 0.1447) in 46-50 s on a loaded machine.

// Larger tables get fewer rounds of more restarts, for time: the whole
// GloVe 6B table (341,479 rows, 32x16, seed 1, 6 codes re-drawn): 42 rounds
// x 2 restarts at anneal 0.45 0.1905 in 130 s; 32 x 3 0.1902 in 120 s, at
// anneal 0.3 0.1873 in 125 s; 24 x 5 (0.3) 0.1865 in 109 s; 24 x 8 (0.3)
// 0.1842 in 152 s; the old 24 x 12 (4 codes) 0.1827 in 282 s with the
// previous kernels. After one greedy k-means++ trial: 24 x 8 0.1836 in
// 126 s, 25 x 8 0.1834 in 120 s, 28 x 8 0.1827 in 136 s.

// schedule is the default refinement for a table.
type schedule struct {
	rounds, restarts int
	anneal           float64
}

// defaultSchedule returns the default refinement for a [V, D] table: 128
// rounds of 2 restarts at anneal 0.45 up to 6,553,600 values (65,536 rows of
// 100); beyond, 128*6553600/(V*D) rounds (at least 28), and restarts and
// anneal in proportion between the two measured ends, 128 x 2 at 0.45 and
// 28 x 8 at 0.3. A round's fixed part (the products with the codebook, the
// field, the refit) grows with D and the restarts do not, so wide tables
// (a [128256, 2048] one: 28 x 8) get few rounds. At 8x256 (GloVe 50k,
// embshrink-learner-9) the knobs moved along one curve of error against
// time: 80 rounds 0.2345 in 30.9 s, at anneal 0.3 0.2405, 0.55 0.2349, 0.65
// 0.2374, with 1 restart 0.2380, 3 codes re-drawn 0.2331 (slower), 2 sweeps
// 0.2365; 60 rounds of 3 restarts 0.2359; 128 rounds with 1 restart (or
// none) in the first half 0.2311 (0.2343), against 0.2298.
func defaultSchedule(V, D int) schedule {
	const full, least, values = 128, 28, 65536 * 100
	r := full
	if n := float64(V) * float64(D); n > values {
		r = max(least, int(math.Round(full*values/n)))
	}
	t := float64(full-r) / (full - least) // 0 at full rounds, 1 at least
	return schedule{rounds: r, restarts: int(math.Round(2 + 6*t)), anneal: 0.45 - 0.15*t}
}

// defaultPerturb is the number of codes re-drawn a restart for M codebooks:
// about a fifth of them, at least 2 (GloVe 50k, 96 rounds of 2 restarts:
// 16x16 0.3185 at 3, 0.3177 at 4 in 4% more time; 8x8 0.6097 at 2, 0.6096
// at 4 in 20% more time).
func defaultPerturb(M int) int { return max(2, (M+2)/5) }

// encodeOpts returns the knobs of an encoding pass, restarts by default
// when Config.Restarts is 0.
func (c Config) encodeOpts(restarts int) encodeOpts {
	o := encodeOpts{sweeps: orDefault(c.ICMSweeps, defaultICMSweeps), restarts: c.Restarts,
		perturb: orDefault(c.Perturb, defaultPerturb(c.M))}
	if o.restarts == 0 {
		o.restarts = restarts
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
	prev, err := a.initResidual(st.ctx, orDefault(cfg.KMeansIters, defaultKMeansIters))
	// The residuals, a copy of the table, are let go (compress of a
	// [128256, 2048] table: 4.0 GB peak RSS without this).
	freemem.IfLarge(len(data))
	if st.timedOut(err) {
		return learned{a.codes, a.cb, st.limitMsg()}, nil
	} else if err != nil {
		return learned{}, fmt.Errorf("residual k-means initialisation: %w", err)
	}
	if st.reached(prev) {
		return learned{a.codes, a.cb, st.targetMsg()}, nil
	}
	a.prodBits = productBits(D, prev)
	return newRefinement(a, st, cfg).run(prev)
}

// Every round encodes every row with restarts. Two ways of sparing large
// tables part of that did not keep the error (whole GloVe 6B 100-d table,
// 341,479 rows, 32x16, 18 rounds: 0.183 with every row every round): all
// but the last 3 rounds on a fixed sample of 65,536 rows, then on every row,
// 0.1927 in 93 s (the other rows' codes never followed the codebook); every
// row every round but restarts for a different 65,536 a round, 0.1973 in
// 115 s.

// refinement holds the state of the rounds.
type refinement struct {
	a     *aq
	st    *stopper
	opts  encodeOpts
	iters int
	pace  pace
	// last is the last round's restarts, fewer than opts' where the pace
	// fits a shorter round in the time left; ran is those of the round run
	// last.
	last, ran int
	anneal    float64
	noisy     bool // the codebook holds annealing noise
	// splitting says the rounds still split thin codewords: until one
	// splits none (see disturb).
	splitting bool
	// clean is the codebook of the last refit, before its noise: the
	// conjugate-gradient refit starts from it.
	clean []float32
}

func newRefinement(a *aq, st *stopper, cfg Config) *refinement {
	def := defaultSchedule(a.V, a.D)
	rf := &refinement{a: a, st: st, opts: cfg.encodeOpts(def.restarts),
		iters: orDefault(cfg.Iterations, def.rounds), anneal: cfg.Anneal}
	rf.pace = newPace(st, rf.iters, cfg.Iterations <= 0, tailPasses(cfg, rf.opts.restarts))
	rf.last, rf.splitting = rf.opts.restarts, true
	if rf.anneal == 0 {
		rf.anneal = def.anneal
	}
	return rf
}

func (rf *refinement) run(prev float64) (learned, error) {
	st := rf.st
	for it := 0; it < rf.iters; it++ {
		loss, err := rf.round(it)
		if st.timedOut(err) {
			return rf.finish(st.limitMsg())
		} else if err != nil {
			return learned{}, err
		}
		pl := rf.pace.plan(it+1, rf.opts.restarts)
		rf.iters, rf.last = pl.rounds, pl.last
		rf.a.progress(Progress{Phase: "refine", Step: it + 1, Total: rf.iters, Loss: loss})
		switch {
		case st.reached(loss):
			return rf.finish(st.targetMsg())
		case !rf.noisy && prev-loss <= convergedGain*prev && it+1 < rf.iters:
			// Only a round that stops the run early converged: a last
			// round that gains nothing (fitted to a time limit, often of
			// no restarts) still completed the rounds.
			return rf.finish(stoppedConverged)
		}
		prev = loss
	}
	return rf.finish(rf.pace.stopped(plan{rf.iters, rf.ran}, rf.opts.restarts))
}

// round refits the codebook, adds the round's annealing noise and
// re-encodes the rows, returning their error.
func (rf *refinement) round(it int) (float64, error) {
	a := rf.a
	t0 := time.Now()
	if err := rf.refit(rf.st.ctx, it); err != nil {
		return 0, fmt.Errorf("codebook refit %d: %w", it+1, err)
	}
	if it == 0 {
		rf.pace.refit = time.Since(t0)
	}
	if err := rf.disturb(it); err != nil {
		return 0, err
	}
	o := rf.opts
	if it == rf.iters-1 {
		o.restarts = rf.last
	}
	rf.ran = o.restarts
	loss, err := a.encode(rf.st.ctx, it+1, o)
	if err != nil {
		return 0, fmt.Errorf("encoding round %d: %w", it+1, err)
	}
	return loss, nil
}

// disturb splits thin codewords in the first half of the rounds, until a
// round splits none (see splitThin), and adds round it's annealing noise
// to the refit codebook, keeping a copy of it for the next refit. (On
// vibe's calibrated table at 8x256, 1,200 codewords light by weight stay
// thin, not worth moving, and taking their costs every round of the first
// half took 1.3 s; on GloVe 50k at 8x256, splitting every round of the 48
// or the first quarter of them gave the same 0.2380.)
func (rf *refinement) disturb(it int) error {
	a := rf.a
	split := false
	if rf.splitting && 2*it < rf.iters {
		n, err := a.splitThin(rf.st.ctx, it)
		if err != nil {
			return fmt.Errorf("codebook split %d: %w", it+1, err)
		}
		split, rf.splitting = n > 0, n > 0
	}
	T := math.Sqrt(1 - float64(it+1)/float64(rf.iters))
	noise := rf.anneal > 0 && T > 0
	if !noise && !split {
		return nil
	}
	if a.MK > maxCholeskyMK {
		rf.clean = append(rf.clean[:0], a.cb...)
	}
	if noise {
		a.perturbCodebook(rf.anneal*T, it)
	}
	// The codebook is no longer the refit's: the next round or finish
	// refits it.
	rf.noisy = true
	return nil
}

// refit refits the codebook to the codes of round it (rf.iters: after the
// last), without its noise. The conjugate gradients start from the last
// refit's codebook (with its splits), the one the noise was added to,
// which is nearer the new solution than its noisy copy: then warmCGSteps
// steps do what cgIters did from the noisy codebook (GloVe 50k at 8x256,
// 48 rounds: 0.2405 with 6 steps from the noisy codebook, 3 steps 0.2411,
// 2 steps 0.2423; from the last refit's, 6 steps 0.2405, 3 0.2406, 2
// 0.2404, 1 0.2446; a round took 0.34 s instead of 0.41). The last round's
// refit, which the result keeps, takes all cgIters steps.
//
// Every refit takes every row. Refits to a random half of the rows, a new
// half a round, in all but the last quarter of the rounds (embshrink-
// learner-12, reverted) paid on GloVe 100-d only, as noise: 50k 8x256
// 0.2282 in 25.5 s against 0.2299 in 28.6 s (medians of 4 alternated
// pairs; seeds 2, 3: 0.2280, 0.2282 against 0.2297, 0.2305), 16x256 0.1067
// in 105 s against 0.1105 in 121 s, the whole table at 32x16 0.1806 in 72
// s against 0.1826 in 78 s. The same rows' first 16, 32 and 64 columns at
// 8x256 lost: 0.0088, 0.0702, 0.1693 against 0.0082, 0.0674, 0.1682, in
// 20.4, 19.9, 31.0 s against 20.0, 23.2, 30.2 s; vibe's [15000, 64] 16x16
// 0.2783 against 0.2774. Those want less noise (16 columns: anneal 0.3
// 0.0076, 0.6 0.0104; sampled 0.0079, 0.0118).
func (rf *refinement) refit(ctx context.Context, it int) error {
	steps := cgIters
	if rf.noisy && rf.clean != nil {
		copy(rf.a.cb, rf.clean)
		if it < rf.iters-1 {
			steps = warmCGSteps
		}
	}
	rf.noisy = false
	return rf.a.refitSteps(ctx, steps)
}

// finish returns the codes; the noise goes before returning early, since a
// refit for the codes only lowers the error.
func (rf *refinement) finish(why string) (learned, error) {
	if rf.noisy {
		if err := rf.refit(rf.st.parent, rf.iters); err != nil {
			return learned{}, fmt.Errorf("final codebook refit: %w", err)
		}
	}
	return learned{rf.a.codes, rf.a.cb, why}, nil
}

// perturbCodebook adds Gaussian noise to every codeword (stochastic
// relaxation, as in LSQ++): the noise standard deviation is scale times the
// root mean squared reconstruction error per coordinate of the last
// encoding, so that re-encoding against the noisy codebook can leave poor
// local optima. The noise shrinks to zero over the rounds.
func (a *aq) perturbCodebook(scale float64, round int) {
	// The error is the last encoding's (the refit since lowered it by a
	// few percent): recomputing it took 6% of a round.
	sd := scale * a.errorScale()
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
