package learner

import (
	"context"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// initResidual fits codebook m by weighted k-means on the residual left by
// codebooks 0..m-1 (greedy residual quantisation). It returns the weighted
// relative squared error of the initial codes.
func (a *aq) initResidual(ctx context.Context, iters int) (float64, error) {
	V, D, K := a.V, a.D, a.K
	res := make([]float32, len(a.x))
	copy(res, a.x)
	assign := make([]int32, V)
	dist := make([]float64, V)
	// Several k-means++ trials per stage when that is cheap (small tables),
	// keeping the lowest weighted inertia, as k-means++ alone often merges
	// clusters.
	trials := a.cfg.KMeansTrials
	if trials <= 0 {
		trials = 1
		if float64(V)*float64(K)*float64(D)*float64(iters+1) < 2e7 {
			trials = 8
		}
	}
	bestAssign := make([]int32, V)
	den := a.sumRows(func(i int) float64 { return sqNorm(a.x[i*D : (i+1)*D]) })
	var loss float64
	for m := 0; m < a.M; m++ {
		var cent []float32
		bestInertia := math.Inf(1)
		for tr := 0; tr < trials; tr++ {
			c, err := a.kmeans(ctx, res, iters, m*1000+tr, assign, dist)
			if err != nil {
				return 0, err
			}
			if inertia := a.sumRows(func(i int) float64 { return dist[i] }); inertia < bestInertia {
				bestInertia, cent = inertia, c
				copy(bestAssign, assign)
			}
		}
		copy(a.cb[m*K*D:(m+1)*K*D], cent)
		// Subtract the chosen centroids; every row is its own.
		if err := forChunks(ctx, V, chunkRows, a.threads, func(_, lo, hi int) {
			for i := lo; i < hi; i++ {
				k := int(bestAssign[i])
				a.codes[i*a.M+m] = uint16(k)
				r := res[i*D : (i+1)*D]
				for j, v := range cent[k*D : (k+1)*D] {
					r[j] -= v
				}
			}
		}); err != nil {
			return 0, err
		}
		loss = ratio(a.sumRows(func(i int) float64 { return sqNorm(res[i*D : (i+1)*D]) }), den)
		a.progress(Progress{Phase: "init", Step: m + 1, Total: a.M, Loss: loss})
	}
	return loss, nil
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
// ||p - c||^2 = ||p||^2 - 2<p, c> + ||c||^2 with a matrix product. buf must
// hold (hi-lo)*K values; cnorm holds the centroids' squared norms.
func nearest(pts []float32, D int, cent, cnorm []float32, K, lo, hi int, assign []int32, dist []float64, buf []float32) {
	n := hi - lo
	ps := blas32.General{Rows: n, Cols: D, Stride: D, Data: pts[lo*D : hi*D]}
	cs := blas32.General{Rows: K, Cols: D, Stride: D, Data: cent}
	blas32.Gemm(blas.NoTrans, blas.Trans, -2, ps, cs, 0, blas32.General{Rows: n, Cols: K, Stride: K, Data: buf[:n*K]})
	for r := 0; r < n; r++ {
		i := lo + r
		pn := sqNorm(pts[i*D : (i+1)*D])
		row := buf[r*K : (r+1)*K]
		best, bestK := float32(math.Inf(1)), 0
		for k, v := range row {
			if d := v + cnorm[k]; d < best {
				best, bestK = d, k
			}
		}
		assign[i] = int32(bestK)
		dist[i] = math.Max(pn+float64(best), 0)
	}
}

// nearestRows returns the chunk size used by nearest for K centroids.
func nearestRows(K int) int { return max(1, min(512, (1<<20)/K)) }

// kmeans clusters pts [V, D] into K weighted clusters with k-means++
// seeding and Lloyd iterations. assign and dist receive the final nearest
// centroid of every row.
func (a *aq) kmeans(ctx context.Context, pts []float32, iters, stage int, assign []int32, dist []float64) ([]float32, error) {
	rng := rand.New(rand.NewPCG(uint64(a.seed), uint64(stage)+0x1234567))
	cent, err := a.seedPlusPlus(ctx, pts, rng)
	if err != nil {
		return nil, err
	}
	l := newLloyd(a, pts)
	for it := 0; ; it++ {
		if err := l.assign(ctx, cent, assign, dist); err != nil {
			return nil, err
		}
		if it == iters {
			return cent, nil
		}
		if err := l.update(ctx, cent, assign, dist); err != nil {
			return nil, err
		}
	}
}

// seedPlusPlus draws K initial centroids by weighted k-means++ seeding on a
// deterministic candidate subset of the rows of pts.
func (a *aq) seedPlusPlus(ctx context.Context, pts []float32, rng *rand.Rand) ([]float32, error) {
	V, D, K := a.V, a.D, a.K
	cent := make([]float32, K*D)
	maxCand := max(4<<20/K, 4*K)
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
	for k := 0; k < K; k++ {
		i := a.pickSeed(cand, d2, k == 0, rng)
		c := cent[k*D : (k+1)*D]
		copy(c, pts[i*D:(i+1)*D])
		// Each candidate's distance is its own: the chunks change nothing
		// but the time (this was most of initialisation for wide tables).
		if err := forChunks(ctx, len(cand), 1024, a.threads, func(_, lo, hi int) {
			for ci := lo; ci < hi; ci++ {
				j := cand[ci]
				d2[ci] = partialDist(pts[j*D:(j+1)*D], c, d2[ci])
			}
		}); err != nil {
			return nil, err
		}
	}
	return cent, nil
}

// partialDist returns min(best, ||p - c||^2). The sum only grows: once it
// reaches best the centre cannot win, and the rest is skipped (partial
// distance search; the result is the same).
func partialDist(p, c []float32, best float64) float64 {
	c = c[:len(p)]
	var s float64
	for t0 := 0; t0 < len(p) && s < best; t0 += 64 {
		for t, v := range p[t0:min(t0+64, len(p))] {
			d := float64(v - c[t0+t])
			s += d * d
		}
	}
	return min(s, best)
}

// pickSeed draws the next k-means++ centre among cand with probability
// proportional to weight times squared distance d2 (weighted uniform for the
// first centre, or when no mass is left).
func (a *aq) pickSeed(cand []int, d2 []float64, first bool, rng *rand.Rand) int {
	var tot float64
	for ci, i := range cand {
		if !math.IsInf(d2[ci], 1) {
			tot += a.weight(i) * d2[ci]
		}
	}
	if first || !(tot > 0) {
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
	r := rng.Float64() * tot
	for ci, i := range cand {
		r -= a.weight(i) * d2[ci]
		if r < 0 {
			return i
		}
	}
	return cand[len(cand)-1]
}

// lloyd holds the scratch space of Lloyd iterations on pts.
type lloyd struct {
	a        *aq
	pts      []float32
	sum, cnt []float64
	cnorm    []float32
	rows     int
	bufs     [][]float32
}

func newLloyd(a *aq, pts []float32) *lloyd {
	l := &lloyd{a: a, pts: pts, sum: make([]float64, a.K*a.D), cnt: make([]float64, a.K),
		cnorm: make([]float32, a.K), rows: nearestRows(a.K), bufs: make([][]float32, a.threads)}
	for t := range l.bufs {
		l.bufs[t] = make([]float32, l.rows*a.K)
	}
	return l
}

// assign finds every row's nearest centroid.
func (l *lloyd) assign(ctx context.Context, cent []float32, assign []int32, dist []float64) error {
	a := l.a
	for k := range l.cnorm {
		l.cnorm[k] = float32(sqNorm(cent[k*a.D : (k+1)*a.D]))
	}
	return forChunks(ctx, a.V, l.rows, a.threads, func(t, lo, hi int) {
		nearest(l.pts, a.D, cent, l.cnorm, a.K, lo, hi, assign, dist, l.bufs[t])
	})
}

// update moves every centroid to the weighted mean of its rows, and empty
// clusters to the worst-served rows.
func (l *lloyd) update(ctx context.Context, cent []float32, assign []int32, dist []float64) error {
	a := l.a
	D := a.D
	// Centroid k's sums are made by one goroutine, over rows in order,
	// so they do not depend on the thread count.
	if err := forChunks(ctx, a.K, 1, a.threads, func(_, k, _ int) {
		s := l.sum[k*D : (k+1)*D]
		clear(s)
		l.cnt[k] = 0
		for i := 0; i < a.V; i++ {
			if int(assign[i]) != k {
				continue
			}
			w := a.weight(i)
			if w == 0 {
				continue
			}
			l.cnt[k] += w
			for j, v := range l.pts[i*D : (i+1)*D] {
				s[j] += w * float64(v)
			}
		}
	}); err != nil {
		return err
	}
	var used []bool
	for k := 0; k < a.K; k++ {
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
	}
	return nil
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
