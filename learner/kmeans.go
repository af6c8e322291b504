package learner

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
)

// initResidual fits codebook m by weighted k-means on the residual left by
// codebooks 0..m-1 (greedy residual quantisation). It returns the weighted
// relative squared error of the initial codes.
func (a *aq) initResidual(ctx context.Context, iters int) (float64, error) {
	V, D, K := a.V, a.D, a.K
	assign := make([]int32, V)
	dist := make([]float64, V)
	train := a.sampleRows(initSampleRows(K), 0x1417)
	res, pos := a.residualRows(train)
	at := func(i int) int { return i } // row i's place in res
	if pos != nil {
		at = func(i int) int { return pos[i] }
	}
	st := a.newStages(res, train)
	trials := a.cfg.KMeansTrials
	if trials <= 0 {
		trials = defaultTrials(float64(st.l.a.V)*float64(K)*float64(D)*float64(iters+1), a.w != nil)
	}
	bestAssign := make([]int32, V) // by place in res
	den := a.sumRows(func(i int) float64 { return sqNorm(a.x[i*D : (i+1)*D]) })
	var loss float64
	for m := 0; m < a.M; m++ {
		cent, err := a.initStage(ctx, st, iters, trials, m, bestAssign, assign, dist)
		if err != nil {
			return 0, err
		}
		copy(a.cb[m*K*D:(m+1)*K*D], cent)
		// Subtract the chosen centroids; every row is its own.
		if err := forChunks(ctx, V, chunkRows, a.threads, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				p := at(i)
				k := int(bestAssign[p])
				a.codes[i*a.M+m] = uint16(k)
				r := res[p*D : (p+1)*D]
				for j, v := range cent[k*D : (k+1)*D] {
					r[j] -= v
				}
			}
		}); err != nil {
			return 0, err
		}
		a.sqErr = a.sumRows(func(i int) float64 { p := at(i); return sqNorm(res[p*D : (p+1)*D]) })
		loss = ratio(a.sqErr, den)
		a.progress(Progress{Phase: "init", Step: m + 1, Total: a.M, Loss: loss})
	}
	return loss, nil
}

// stages holds what the initialisation's stages share, made once: Lloyd's
// state on the training rows (a prefix of the residuals, or all of them)
// and, when they are a sample, on every row. (Each stage allocating its
// own left 0.7 GB of garbage a stage on a [128256, 2048] table, and Go's
// heap grows to twice the live data before it collects: 7.7 GiB peak for a
// 1 GiB table.)
type stages struct {
	l    *lloyd // on the training rows
	full *lloyd // on every row; nil when the training rows are all of them
}

// newStages returns the stages' state on the residuals res, laid out by
// residualRows for the training rows train (nil: all rows).
func (a *aq) newStages(res []float32, train []int) *stages {
	if train == nil {
		return &stages{l: newLloyd(a, res)}
	}
	km := a.prefix(res, train)
	full := newLloyd(a, res)
	full.once = true
	return &stages{l: newLloyd(km, km.x), full: full}
}

// initStage fits the K centroids of stage m by k-means on the residuals,
// trained on st.l's rows, best of trials seedings, and writes every row's
// nearest centroid to bestAssign, by place in the residuals (assign and
// dist are scratch space of V values).
func (a *aq) initStage(ctx context.Context, st *stages, iters, trials, m int, bestAssign, assign []int32, dist []float64) ([]float32, error) {
	l := st.l
	km := l.a
	l.setNorms() // the residuals changed; the trials share the norms
	l.greedy = trials == 1 && a.w == nil
	var cent []float32
	bestInertia := math.Inf(1)
	for tr := 0; tr < trials; tr++ {
		c, err := l.kmeans(ctx, iters, m*1000+tr, assign[:km.V], dist[:km.V])
		if err != nil {
			return nil, err
		}
		if inertia := km.sumRows(func(i int) float64 { return dist[i] }); inertia < bestInertia {
			bestInertia, cent = inertia, c
			copy(bestAssign, assign[:km.V])
		}
	}
	if st.full != nil {
		st.full.setNorms()
		_, err := st.full.assign(ctx, cent, bestAssign, dist, false)
		return cent, err
	}
	return cent, nil
}

// defaultTrials is the number of k-means++ seedings tried per stage (the
// lowest weighted inertia is kept) for a stage costing work multiply-adds a
// pass, on a weighted table or not. On an unweighted table one greedy
// trial (see seedPlusPlus) is as good a start as four plain ones were, at a
// quarter of the time (GloVe 50k 32x16, seed 1: initial error 0.2070 in
// 2.9 s, plain seeding 0.2094 in 2.5 s, four plain trials 0.2054 in 8.1 s,
// four greedy ones 0.2057 in 11.0 s), and the rounds the time buys lower
// the final error more (96 rounds after four plain trials 0.1474; 110
// rounds after one greedy trial 0.1464, seeds 2 and 3 0.1463 and 0.1465,
// in less time). Small tables keep 8 plain trials, which cost nothing
// there (stories260K's [512, 64] table at 16x16: 0.0032 with greedy
// seeding, 0.0041 without, but the next token of the tied model agreed at
// 150 of 256 positions instead of 202), and weighted tables plain ones, 8
// below 1e9 multiply-adds a pass:
// greedy seeding weighs its choice by the weights too and fits the heavy
// rows at the others' expense (vibe calibrated at 20x16: weighted error
// 0.0613, 99.50% of held-out decisions agree; 4 plain trials 0.0635,
// 99.90%, but the quantized vibe at 99.45%; 8 plain trials 0.0626, 99.70%,
// quantized 99.70%).
func defaultTrials(work float64, weighted bool) int {
	if work < 2e7 || weighted && work < 1e9 {
		return 8
	}
	return 1
}

// sumRows returns sum_i w_i f(i) over all rows, computed on all threads in
// fixed chunks added in order, so the sum does not depend on the thread
// count.
func (a *aq) sumRows(f func(i int) float64) float64 {
	part := make([]float64, (a.V+chunkRows-1)/chunkRows)
	// Without cancellation the error is always nil.
	_ = forChunks(context.Background(), a.V, chunkRows, a.threads, func(_, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			if w := a.weight(i); w != 0 {
				s += w * f(i)
			}
		}
		part[lo/chunkRows] = s
	})
	var s float64
	for _, v := range part {
		s += v
	}
	return s
}

func sqNorm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return s
}

// nearest writes, for rows [lo, hi) of pts, the index of and the squared
// distance to the nearest of the K centroids, using
// ||p - c||^2 = ||p||^2 - 2<p, c> + ||c||^2. ct is the centroids cent
// packed by packPanels, buf must hold uRows*K values; pnorm and cnorm hold the
// points' and the centroids' squared norms.
func nearest(pts []float32, pnorm []float64, D int, cent, ct, cnorm []float32, K, lo, hi int, assign []int32, dist []float64, buf []float32) (changed int) {
	for b := lo; b < hi; b += uRows {
		n := min(uRows, hi-b)
		products(buf[:n*K], pts[b*D:(b+n)*D], D, cent, ct, K)
		for i := b; i < b+n; i++ {
			row := buf[(i-b)*K : (i-b+1)*K]
			unary(row, cnorm)
			changed += settle(row, i, pnorm, assign, dist)
		}
	}
	return changed
}

// settle assigns row i to the centroid of least term in row (its
// centroids' ||c||^2 - 2<p, c>), sets its squared distance from pnorm[i],
// and returns 1 if its centroid changed, else 0.
func settle(row []float32, i int, pnorm []float64, assign []int32, dist []float64) int {
	k := minIndex(row)
	dist[i] = max(pnorm[i]+float64(row[k]), 0)
	if assign[i] == int32(k) {
		return 0
	}
	assign[i] = int32(k)
	return 1
}

// kmeans clusters l's points into K weighted clusters with k-means++
// seeding and Lloyd iterations. assign and dist receive the final nearest
// centroid of every row.
func (l *lloyd) kmeans(ctx context.Context, iters, stage int, assign []int32, dist []float64) ([]float32, error) {
	rng := rand.New(rand.NewPCG(uint64(l.a.seed), uint64(stage)+0x1234567))
	cent, err := l.seedPlusPlus(ctx, rng)
	if err != nil {
		return nil, err
	}
	for it := 0; ; it++ {
		changed, err := l.assign(ctx, cent, assign, dist, it < iters)
		if err != nil {
			return nil, err
		}
		// With no row moved and no cluster repaired, another update would
		// give the same centroids: Lloyd has converged.
		if it == iters || (it > 0 && changed == 0 && !l.repaired) {
			return cent, nil
		}
		l.update(cent, dist)
	}
}

// lloyd holds the scratch space of Lloyd iterations on pts.
type lloyd struct {
	a        *aq
	pts      []float32
	sum, cnt []float64
	cnorm    []float32
	pnorm    []float64 // the points' squared norms, which every pass needs
	bufs     [][]float32
	// part holds per-chunk sums (K*D) and weights (K) of the rows assigned
	// to each centroid.
	part [][]float32
	// repaired says the last update moved an empty cluster.
	repaired bool
	// greedy says the seeding is greedy k-means++ (a single trial on an
	// unweighted table).
	greedy bool
	// seedRows holds the seeding's candidate rows, and seedY their
	// projections where they are wide (see seedSpace).
	seedRows, seedY []float32
	// ip holds the points quantised for the assignment's integer
	// products, or nil (see assignInt).
	ip *intPoints
	// once says the state assigns its points once a stage (every row,
	// after Lloyd's iterations on a sample): they are not quantised.
	once bool
}

// updateRows is the number of rows per chunk of the assignment and the
// centroid sums: each chunk sums in float32 (over at most 512 rows), the
// chunks add in float64.
const updateRows = 512

// newLloyd returns Lloyd's state on the points pts of a; setNorms must
// run before it is used, and again whenever the points change.
func newLloyd(a *aq, pts []float32) *lloyd {
	l := &lloyd{a: a, pts: pts, sum: make([]float64, a.K*a.D), cnt: make([]float64, a.K),
		cnorm: make([]float32, a.K), bufs: make([][]float32, a.threads)}
	for t := range l.bufs {
		l.bufs[t] = make([]float32, uRows*a.K)
	}
	l.pnorm = make([]float64, a.V)
	l.part = make([][]float32, (a.V+updateRows-1)/updateRows)
	for c := range l.part {
		l.part[c] = make([]float32, a.K*a.D+a.K)
	}
	return l
}

// setNorms computes the squared norms of l's points (and quantises them
// for assignInt).
func (l *lloyd) setNorms() {
	a := l.a
	// Each norm is its own; without cancellation the error is nil.
	_ = forChunks(context.Background(), a.V, chunkRows, a.threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			l.pnorm[i] = sqNorm(l.pts[i*a.D : (i+1)*a.D])
		}
	})
	l.quantisePoints()
}

// assign finds every row's nearest centroid and returns how many rows
// changed centroid; with sums, it also adds up each chunk's rows by
// centroid for update, while the chunk is in cache (one pass over the
// points an iteration instead of two).
func (l *lloyd) assign(ctx context.Context, cent []float32, assign []int32, dist []float64, sums bool) (int, error) {
	a := l.a
	for k := range l.cnorm {
		l.cnorm[k] = float32(sqNorm(cent[k*a.D : (k+1)*a.D]))
	}
	if l.ip != nil {
		return l.assignInt(ctx, cent, assign, dist, sums)
	}
	ct := packPanels(cent, a.K, a.D)
	var changed atomic.Int64
	err := forChunks(ctx, a.V, updateRows, a.threads, func(t, lo, hi int) {
		changed.Add(int64(nearest(l.pts, l.pnorm, a.D, cent, ct, l.cnorm, a.K, lo, hi, assign, dist, l.bufs[t])))
		if sums {
			l.chunkSums(lo, hi, assign)
		}
	})
	return int(changed.Load()), err
}

// chunkSums sets the chunk of rows [lo, hi)'s weighted sums and weights by
// centroid.
func (l *lloyd) chunkSums(lo, hi int, assign []int32) {
	a := l.a
	K, D := a.K, a.D
	p := l.part[lo/updateRows]
	clear(p)
	for i := lo; i < hi; i++ {
		w := float32(a.weight(i))
		if w == 0 {
			continue
		}
		k := int(assign[i])
		p[K*D+k] += w
		axpy(p[k*D:(k+1)*D], l.pts[i*D:(i+1)*D], w)
	}
}

// update moves every centroid to the weighted mean of its rows, from the
// chunk sums of the last assignment, and empty clusters to the
// worst-served rows. The chunks are added in order, so the sums do not
// depend on the thread count.
func (l *lloyd) update(cent []float32, dist []float64) {
	a := l.a
	K, D := a.K, a.D
	clear(l.sum)
	clear(l.cnt)
	for _, p := range l.part {
		for j, v := range p[:K*D] {
			l.sum[j] += float64(v)
		}
		for k, v := range p[K*D:] {
			l.cnt[k] += float64(v)
		}
	}
	var used []bool
	l.repaired = false
	for k := 0; k < K; k++ {
		c := cent[k*D : (k+1)*D]
		if l.cnt[k] > 0 {
			for j := range c {
				c[j] = float32(l.sum[k*D+j] / l.cnt[k])
			}
			continue
		}
		if used == nil {
			used = make([]bool, a.V)
		}
		l.repairEmpty(c, dist, used)
		l.repaired = true
	}
}

// repairEmpty moves an empty cluster's centroid c onto the worst-served
// weighted row not used by an earlier repair.
func (l *lloyd) repairEmpty(c []float32, dist []float64, used []bool) {
	a := l.a
	worst, wi := -1.0, -1
	for i := 0; i < a.V; i++ {
		if s := a.weight(i) * dist[i]; !used[i] && s > worst {
			worst, wi = s, i
		}
	}
	if wi >= 0 {
		used[wi] = true
		copy(c, l.pts[wi*a.D:(wi+1)*a.D])
	}
}
