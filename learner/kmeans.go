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
	return &stages{l: newLloyd(km, km.x), full: newLloyd(a, res)}
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
			k := minIndex(row)
			if assign[i] != int32(k) {
				assign[i] = int32(k)
				changed++
			}
			dist[i] = max(pnorm[i]+float64(row[k]), 0)
		}
	}
	return changed
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

// seedPlusPlus draws K initial centroids by weighted k-means++ seeding on a
// deterministic candidate subset of l's points.
func (l *lloyd) seedPlusPlus(ctx context.Context, rng *rand.Rand) ([]float32, error) {
	a, pts := l.a, l.pts
	V, D, K := a.V, a.D, a.K
	cent := make([]float32, K*D)
	// Seeding from 1024 candidates a centroid loses nothing measurable
	// (GloVe 50k, 32x16) and took 17% of initialisation from every row.
	// Fewer cost the end result at K = 256 (GloVe 50k, 8x256, 128 rounds,
	// against 0.2298 from every row: 128 a centroid 0.2314, 64 0.2479, its
	// initialisation 2.4 s instead of 3.8).
	maxCand := max(1024*K, 16384)
	cand := make([]int, 0, min(V, maxCand))
	if V <= maxCand {
		for i := 0; i < V; i++ {
			cand = append(cand, i)
		}
	} else {
		cand = rng.Perm(V)[:maxCand]
	}
	d2 := make([]float64, len(cand))
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	rows, err := l.seedColumns(ctx, cand)
	if err != nil {
		return nil, err
	}
	pn := make([]float64, len(cand))
	for ci, j := range cand {
		pn[ci] = l.pnorm[j]
	}
	tries := seedTries(K)
	picked := make([]int, tries)
	dot := make([]float32, tries*len(cand)) // pick t's products at t*len(cand)
	nd := make([][]float64, tries)
	for t := range nd {
		nd[t] = make([]float64, len(cand))
	}
	var mass seedMass // d2's weighted sums; none before the first centre
	for k := 0; k < K; k++ {
		tries := 1
		if k > 0 && l.greedy {
			tries = len(picked)
		}
		// The draws depend on d2 alone, so all are drawn first and their
		// distances computed in one pass over the candidates' rows (GloVe
		// 50k at 8x256: the seeding took 6.1 s of CPU in three passes, 4.2
		// to 4.7 s in one).
		picks := picked[:tries]
		for t := range picks {
			picks[t] = a.pickSeed(cand, d2, mass, rng)
		}
		pots, err := l.seedDists(ctx, pts, picks, cand, rows, pn, d2, nd[:tries], dot)
		if err != nil {
			return nil, err
		}
		t := 0
		for u := range pots {
			if pots[u].sum < pots[t].sum {
				t = u
			}
		}
		copy(cent[k*D:(k+1)*D], pts[picks[t]*D:(picks[t]+1)*D])
		d2, nd[t] = nd[t], d2
		mass = pots[t]
	}
	return cent, nil
}

// seedColumns returns the rows cand of l's points by seedChunk
// candidates, each chunk's as the columns of a [D, its rows] matrix, so
// that seedDots takes their products with three new centres at once in
// the lanes of registers, with no sums across lanes. They are kept for the
// next seeding (134 MB at D = 2048).
func (l *lloyd) seedColumns(ctx context.Context, cand []int) ([]float32, error) {
	D := l.a.D
	if len(l.seedRows) != len(cand)*D {
		l.seedRows = make([]float32, len(cand)*D)
	}
	rows := l.seedRows
	err := forChunks(ctx, len(cand), seedChunk, l.a.threads, func(_, lo, hi int) {
		n := hi - lo
		blk := rows[lo*D : hi*D]
		for c, j := range cand[lo:hi] {
			for d, v := range l.pts[j*D : (j+1)*D] {
				blk[d*n+c] = v
			}
		}
	})
	return rows, err
}

// seedTries is the number of k-means++ draws of which the seeding keeps
// the one that leaves the least weighted squared distance (greedy
// k-means++, 2 + ln K draws as in Arthur and Vassilvitskii's analysis), but
// 3 above K = 64, where the draws cost more than they give (GloVe 50k at
// 8x256, seed 1, initial error: 7 draws 0.2886 in about 25 s of CPU; 3
// 0.2822 in 17 s; 2 0.2900; 1 0.2907 in 11 s; 7 draws from 16,384
// candidate rows instead of every row, 0.3032; training on 16,384 rows,
// 0.3844; 4 Lloyd iterations instead of 8, 0.3085. After 24 rounds, 1
// draw 0.2544 where 7 gave 0.2535, and after 128 rounds 0.2353 where 7
// gave 0.2340). The draws' products as one tile over the candidate rows
// packed as panels (dotsT) did not pay either: 4 draws so, 3.8 s of wall
// time for the initialisation, as 3 draws one by one, and an initial error
// of 0.2999 (5 draws 0.2814, 8 0.2860: the draws vary more than their
// number tells).
func seedTries(K int) int {
	if K > 64 {
		return 3
	}
	return 2 + int(math.Log(float64(K)))
}

// maxSeedTries is seedTries' most, at K = 64.
const maxSeedTries = 6

// seedDists sets out[t] to the candidates' squared distances to their
// nearest centre once row picks[t] of pts is added (d2 holds them without
// it; rows holds the candidates as seedColumns lays them out, pn their
// squared norms; dot is scratch) and returns their weighted sums, by
// seedChunk candidates and in all (the chunks' added in order). Two ways
// of reading fewer bytes did not pay (GloVe 50k at 8x256,
// embshrink-learner-11, initialisation 3.8 to 5.1 s): the candidates'
// rows as int16 for the integer products of the encoder (4.1 to 4.4 s,
// and an initial error of 0.2836, not 0.2822); and the triangle
// inequality, a candidate's row skipped when its nearest centre is at
// least twice as far from the draw as from it (5.3 and 5.4 s).
func (l *lloyd) seedDists(ctx context.Context, pts []float32, picks, cand []int, rows []float32, pn, d2 []float64, out [][]float64, dot []float32) ([]seedMass, error) {
	a, D := l.a, l.a.D
	pots := make([]seedMass, len(picks))
	for t := range pots {
		pots[t].chunks = make([]float64, (len(cand)+seedChunk-1)/seedChunk)
	}
	xs := make([]float32, len(picks)*D)
	cn := make([]float64, len(picks))
	for t, i := range picks {
		copy(xs[t*D:(t+1)*D], pts[i*D:(i+1)*D])
		cn[t] = sqNorm(xs[t*D : (t+1)*D])
	}
	nc := len(cand)
	// Each candidate's distance is its own: the chunks change nothing but
	// the time.
	err := forChunks(ctx, len(cand), seedChunk, a.threads, func(_, lo, hi int) {
		seedDots(dot[lo:], nc, xs, D, rows[lo*D:hi*D], hi-lo)
		// The picks' sums side by side: each one's additions wait on
		// the last, the others' do not (0.6 s of CPU instead of 1.0).
		var s [maxSeedTries]float64
		for ci := lo; ci < hi; ci++ {
			w, p, q := a.weight(cand[ci]), pn[ci], d2[ci]
			for t := range picks {
				o := min(q, max(p+cn[t]-2*float64(dot[t*nc+ci]), 0))
				out[t][ci] = o
				s[t] += w * o
			}
		}
		for t := range picks {
			pots[t].chunks[lo/seedChunk] = s[t]
		}
	})
	for t := range pots {
		for _, v := range pots[t].chunks {
			pots[t].sum += v
		}
	}
	return pots, err
}

// seedDots sets out[t*stride+j] to the product of the t-th of the vectors
// of D values in xs with column j of cols, a [D, n] matrix, three vectors
// at a time where it can, each column read once for the three. (GloVe 50k
// at 8x256: 1.75 s of CPU where one by one took 2.0 s, and dots over rows
// 2.5 s; a pass is bound by reading the 20 MB of candidates, which
// three at a time do in a third of the passes. With the chunks' sums of
// pickSeed and the picks' distances summed side by side in seedDists, the
// initialisation took 2.6 s instead of 2.9.)
func seedDots(out []float32, stride int, xs []float32, D int, cols []float32, n int) {
	t := 0
	if useAVX2 && useAVX512 {
		for ; t+3 <= len(xs)/D; t += 3 {
			cnt := n &^ 15
			dotsCols3x512(out[t*stride:], stride, xs[t*D:(t+3)*D], D, cols, n, cnt)
			for u := t; u < t+3; u++ {
				dotsColsGeneric(out[u*stride+cnt:u*stride+n], xs[u*D:(u+1)*D], cols[cnt:], n)
			}
		}
	}
	for ; t < len(xs)/D; t++ {
		dotsCols(out[t*stride:t*stride+n], xs[t*D:(t+1)*D], cols, n)
	}
}

// seedChunk is the number of candidates whose weighted squared distances
// the seeding sums apart.
const seedChunk = 1024

// seedMass is a seeding's weighted squared distances: their sum, and
// their sums by seedChunk candidates, by which the next draw finds its
// chunk before it walks the candidates (drawing from every candidate's
// running sum took 0.5 s of one core, one ninth of the initialisation of
// GloVe 50k at 8x256).
type seedMass struct {
	sum    float64
	chunks []float64
}

// pickSeed draws the next k-means++ centre among cand with probability
// proportional to weight times squared distance d2, whose weighted sums
// are mass (weighted uniform for the first centre, when mass is the zero
// value, or when no mass is left).
func (a *aq) pickSeed(cand []int, d2 []float64, mass seedMass, rng *rand.Rand) int {
	if !(mass.sum > 0) {
		return a.pickUniform(cand, rng)
	}
	r := rng.Float64() * mass.sum
	last := len(mass.chunks) - 1
	for c, v := range mass.chunks {
		if r >= v && c < last {
			r -= v
			continue
		}
		lo, hi := c*seedChunk, min((c+1)*seedChunk, len(cand))
		pick := -1
		for ci := lo; ci < hi; ci++ {
			if p := a.weight(cand[ci]) * d2[ci]; p > 0 {
				pick = ci
				if r -= p; r < 0 {
					break
				}
			}
		}
		if pick >= 0 {
			return cand[pick] // the last with mass when rounding left r >= 0
		}
	}
	return cand[len(cand)-1]
}

// pickUniform draws among cand with probability proportional to weight.
func (a *aq) pickUniform(cand []int, rng *rand.Rand) int {
	var wt float64
	for _, i := range cand {
		wt += a.weight(i)
	}
	if wt > 0 {
		r := rng.Float64() * wt
		for _, i := range cand {
			r -= a.weight(i)
			if r < 0 {
				return i
			}
		}
	}
	return cand[rng.IntN(len(cand))]
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
	// seedRows holds the seeding's candidate rows.
	seedRows []float32
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

// setNorms computes the squared norms of l's points.
func (l *lloyd) setNorms() {
	a := l.a
	// Each norm is its own; without cancellation the error is nil.
	_ = forChunks(context.Background(), a.V, chunkRows, a.threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			l.pnorm[i] = sqNorm(l.pts[i*a.D : (i+1)*a.D])
		}
	})
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
