package learner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
	"gonum.org/v1/gonum/mat"
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
	if err := a.initResidual(ctx, orDefault(cfg.KMeansIters, defaultKMeansIters)); err != nil {
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

// initResidual fits codebook m by weighted k-means on the residual left by
// codebooks 0..m-1 (greedy residual quantisation).
func (a *aq) initResidual(ctx context.Context, iters int) error {
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
	for m := 0; m < a.M; m++ {
		var cent []float32
		bestInertia := math.Inf(1)
		for tr := 0; tr < trials; tr++ {
			c, err := a.kmeans(ctx, res, iters, m*1000+tr, assign, dist)
			if err != nil {
				return err
			}
			var inertia float64
			for i := 0; i < V; i++ {
				inertia += a.weight(i) * dist[i]
			}
			if inertia < bestInertia {
				bestInertia, cent = inertia, c
				copy(bestAssign, assign)
			}
		}
		copy(assign, bestAssign)
		copy(a.cb[m*K*D:(m+1)*K*D], cent)
		for i := 0; i < V; i++ {
			k := int(assign[i])
			a.codes[i*a.M+m] = uint16(k)
			r := res[i*D : (i+1)*D]
			for j, v := range cent[k*D : (k+1)*D] {
				r[j] -= v
			}
		}
		var tot, den float64
		for i := 0; i < V; i++ {
			w := a.weight(i)
			r := res[i*D : (i+1)*D]
			x := a.x[i*D : (i+1)*D]
			for j := range r {
				tot += w * float64(r[j]) * float64(r[j])
				den += w * float64(x[j]) * float64(x[j])
			}
		}
		a.progress(Progress{Phase: "init", Step: m + 1, Total: a.M, Loss: ratio(tot, den)})
	}
	return nil
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
		var pn float64
		for _, v := range pts[i*D : (i+1)*D] {
			pn += float64(v) * float64(v)
		}
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
	V, D, K := a.V, a.D, a.K
	rng := rand.New(rand.NewPCG(uint64(a.seed), uint64(stage)+0x1234567))
	cent := make([]float32, K*D)

	// k-means++ seeding on a deterministic candidate subset.
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
	pick := func(k int) int {
		var tot float64
		for ci, i := range cand {
			if !math.IsInf(d2[ci], 1) {
				tot += a.weight(i) * d2[ci]
			}
		}
		if k == 0 || !(tot > 0) {
			// First centre (or all remaining mass zero): weighted uniform.
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
	for k := 0; k < K; k++ {
		i := pick(k)
		c := cent[k*D : (k+1)*D]
		copy(c, pts[i*D:(i+1)*D])
		// Each candidate's distance is its own: the chunks change nothing
		// but the time (this was most of initialisation for wide tables).
		if err := forChunks(ctx, len(cand), 1024, a.threads, func(_, lo, hi int) {
			for ci := lo; ci < hi; ci++ {
				j := cand[ci]
				p := pts[j*D : (j+1)*D]
				c := c[:len(p)]
				// The sum only grows: once it reaches the distance to a
				// nearer centre, this one cannot win (partial distance
				// search; the result is the same).
				best := d2[ci]
				var s float64
				for t0 := 0; t0 < len(p) && s < best; t0 += 64 {
					for t, v := range p[t0:min(t0+64, len(p))] {
						d := float64(v - c[t0+t])
						s += d * d
					}
				}
				if s < best {
					d2[ci] = s
				}
			}
		}); err != nil {
			return nil, err
		}
	}

	sum := make([]float64, K*D)
	cnt := make([]float64, K)
	cnorm := make([]float32, K)
	rows := nearestRows(K)
	bufs := make([][]float32, a.threads)
	for t := range bufs {
		bufs[t] = make([]float32, rows*K)
	}
	for it := 0; ; it++ {
		for k := 0; k < K; k++ {
			var s float64
			for _, v := range cent[k*D : (k+1)*D] {
				s += float64(v) * float64(v)
			}
			cnorm[k] = float32(s)
		}
		if err := forChunks(ctx, V, rows, a.threads, func(t, lo, hi int) {
			nearest(pts, D, cent, cnorm, K, lo, hi, assign, dist, bufs[t])
		}); err != nil {
			return nil, err
		}
		if it == iters {
			return cent, nil
		}
		// Centroid k's sums are made by one goroutine, over rows in order,
		// so they do not depend on the thread count.
		if err := forChunks(ctx, K, 1, a.threads, func(_, k, _ int) {
			s := sum[k*D : (k+1)*D]
			for j := range s {
				s[j] = 0
			}
			cnt[k] = 0
			for i := 0; i < V; i++ {
				if int(assign[i]) != k {
					continue
				}
				w := a.weight(i)
				if w == 0 {
					continue
				}
				cnt[k] += w
				for j, v := range pts[i*D : (i+1)*D] {
					s[j] += w * float64(v)
				}
			}
		}); err != nil {
			return nil, err
		}
		var used []bool
		for k := 0; k < K; k++ {
			c := cent[k*D : (k+1)*D]
			if cnt[k] > 0 {
				for j := range c {
					c[j] = float32(sum[k*D+j] / cnt[k])
				}
				continue
			}
			// Empty cluster: move it to the worst-served weighted row.
			if used == nil {
				used = make([]bool, V)
			}
			worst, wi := -1.0, -1
			for i := 0; i < V; i++ {
				if s := a.weight(i) * dist[i]; !used[i] && s > worst {
					worst, wi = s, i
				}
			}
			if wi >= 0 {
				used[wi] = true
				copy(c, pts[wi*D:(wi+1)*D])
			}
		}
	}
}

// refit solves for the codebook that minimises the weighted error given the
// current codes.
func (a *aq) refit(ctx context.Context) error {
	if a.MK > maxCholeskyMK {
		return a.refitBlocks(ctx, 2)
	}
	MK, M, K, D, V := a.MK, a.M, a.K, a.D, a.V
	G := make([]float64, MK*MK)
	B := make([]float64, MK*D)
	// Parallel over codebooks m: task m owns rows m*K..m*K+K-1 of G and B
	// and visits data rows in order, so sums are independent of threads.
	err := forChunks(ctx, M, 1, a.threads, func(_, m, _ int) {
		for i := 0; i < V; i++ {
			w := a.weight(i)
			if w == 0 {
				continue
			}
			code := a.codes[i*M : (i+1)*M]
			r := m*K + int(code[m])
			g := G[r*MK : (r+1)*MK]
			for m2 := m; m2 < M; m2++ {
				g[m2*K+int(code[m2])] += w
			}
			b := B[r*D : (r+1)*D]
			for j, v := range a.x[i*D : (i+1)*D] {
				b[j] += w * float64(v)
			}
		}
	})
	if err != nil {
		return err
	}
	var trace float64
	for r := 0; r < MK; r++ {
		trace += G[r*MK+r]
		for c := r + 1; c < MK; c++ {
			G[c*MK+r] = G[r*MK+c]
		}
	}
	lambda := orDefaultF(a.cfg.Ridge, defaultRidge) * trace / float64(MK)
	if !(lambda > 0) {
		lambda = 1e-12
	}
	for tries := 0; tries < 6; tries++ {
		S := mat.NewSymDense(MK, nil)
		for r := 0; r < MK; r++ {
			for c := r; c < MK; c++ {
				S.SetSym(r, c, G[r*MK+c])
			}
			S.SetSym(r, r, G[r*MK+r]+lambda)
		}
		var ch mat.Cholesky
		if !ch.Factorize(S) {
			lambda *= 100
			continue
		}
		var sol mat.Dense
		if err := ch.SolveTo(&sol, mat.NewDense(MK, D, B)); err != nil {
			lambda *= 100
			continue
		}
		for r := 0; r < MK; r++ {
			for j := 0; j < D; j++ {
				a.cb[r*D+j] = float32(sol.At(r, j))
			}
		}
		return nil
	}
	return errors.New("normal equations are not positive definite")
}

func orDefaultF(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}

// refitBlocks updates one codebook at a time to the weighted mean residual of
// its clusters (block coordinate descent), for M*K too large for a joint
// solve.
func (a *aq) refitBlocks(ctx context.Context, passes int) error {
	V, D, M, K := a.V, a.D, a.M, a.K
	y := Reconstruct(a.codes, a.cb, V, D, M, K)
	sum := make([]float64, K*D)
	cnt := make([]float64, K)
	for p := 0; p < passes; p++ {
		for m := 0; m < M; m++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			clear(sum)
			clear(cnt)
			cbm := a.cb[m*K*D : (m+1)*K*D]
			for i := 0; i < V; i++ {
				w := a.weight(i)
				if w == 0 {
					continue
				}
				k := int(a.codes[i*M+m])
				cnt[k] += w
				c := cbm[k*D : (k+1)*D]
				s := sum[k*D : (k+1)*D]
				for j := 0; j < D; j++ {
					s[j] += w * float64(a.x[i*D+j]-y[i*D+j]+c[j])
				}
			}
			old := make([]float32, K*D)
			copy(old, cbm)
			for k := 0; k < K; k++ {
				if cnt[k] == 0 {
					continue
				}
				for j := 0; j < D; j++ {
					cbm[k*D+j] = float32(sum[k*D+j] / cnt[k])
				}
			}
			for i := 0; i < V; i++ {
				k := int(a.codes[i*M+m])
				for j := 0; j < D; j++ {
					y[i*D+j] += cbm[k*D+j] - old[k*D+j]
				}
			}
		}
	}
	return nil
}

// encoder holds per-worker scratch space for ICM encoding.
type encoder struct {
	u, f, bestF []float32
	cur, best   []uint16
}

// encode re-encodes every row against the current codebook, starting from
// its current codes, with ICM sweeps and perturbation restarts; a row's codes
// only change when its error decreases. It returns the weighted relative
// squared error.
func (a *aq) encode(ctx context.Context, round, sweeps, restarts, perturb int) (float64, error) {
	V, D, M, MK := a.V, a.D, a.M, a.MK
	// P = 2 C C^T and squared norms.
	P := make([]float32, MK*MK)
	cbm := blas32.General{Rows: MK, Cols: D, Stride: D, Data: a.cb}
	blas32.Gemm(blas.NoTrans, blas.Trans, 2, cbm, cbm, 0, blas32.General{Rows: MK, Cols: MK, Stride: MK, Data: P})
	norms := make([]float32, MK)
	for r := 0; r < MK; r++ {
		norms[r] = P[r*MK+r] / 2
	}
	nChunks := (V + chunkRows - 1) / chunkRows
	errSum := make([]float64, nChunks)
	normSum := make([]float64, nChunks)
	encs := make([]*encoder, a.threads)
	for t := range encs {
		encs[t] = &encoder{u: make([]float32, chunkRows*MK), f: make([]float32, MK),
			bestF: make([]float32, MK), cur: make([]uint16, M), best: make([]uint16, M)}
	}
	err := forChunks(ctx, V, chunkRows, a.threads, func(t, lo, hi int) {
		e := encs[t]
		n := hi - lo
		u := e.u[:n*MK]
		xs := blas32.General{Rows: n, Cols: D, Stride: D, Data: a.x[lo*D : hi*D]}
		blas32.Gemm(blas.NoTrans, blas.Trans, -2, xs, cbm, 0, blas32.General{Rows: n, Cols: MK, Stride: MK, Data: u})
		var es, ns float64
		for r := 0; r < n; r++ {
			i := lo + r
			ur := u[r*MK : (r+1)*MK]
			for j := range ur {
				ur[j] += norms[j]
			}
			codes := a.codes[i*M : (i+1)*M]
			en := a.encodeRow(e, ur, P, codes, newRowRNG(a.seed, round, i), sweeps, restarts, perturb)
			var xx float64
			for _, v := range a.x[i*D : (i+1)*D] {
				xx += float64(v) * float64(v)
			}
			w := a.weight(i)
			es += w * math.Max(en+xx, 0)
			ns += w * xx
		}
		c := lo / chunkRows
		errSum[c], normSum[c] = es, ns
	})
	if err != nil {
		return 0, err
	}
	var es, ns float64
	for c := range errSum {
		es += errSum[c]
		ns += normSum[c]
	}
	return ratio(es, ns), nil
}

// field sets f[m*K+k] = u[m*K+k] + sum_{m' != m} P[m*K+k, m'*K+b[m']].
func (a *aq) field(f, u, P []float32, b []uint16) {
	MK, K := a.MK, a.K
	copy(f, u)
	for m, c := range b {
		row := P[(m*K+int(c))*MK : (m*K+int(c)+1)*MK]
		addOutside(f, row, m*K, (m+1)*K)
	}
}

// addOutside adds row to f except on [lo, hi).
func addOutside(f, row []float32, lo, hi int) {
	impl := blas32.Implementation()
	if lo > 0 {
		impl.Saxpy(lo, 1, row, 1, f, 1)
	}
	if n := len(f) - hi; n > 0 {
		impl.Saxpy(n, 1, row[hi:], 1, f[hi:], 1)
	}
}

// setCode changes b[m] to k and updates the field.
func (a *aq) setCode(f, P []float32, b []uint16, m, k int) {
	MK, K := a.MK, a.K
	oldRow := P[(m*K+int(b[m]))*MK : (m*K+int(b[m])+1)*MK]
	newRow := P[(m*K+k)*MK : (m*K+k+1)*MK]
	lo, hi := m*K, (m+1)*K
	impl := blas32.Implementation()
	if lo > 0 {
		impl.Saxpy(lo, 1, newRow, 1, f, 1)
		impl.Saxpy(lo, -1, oldRow, 1, f, 1)
	}
	if hi < MK {
		impl.Saxpy(MK-hi, 1, newRow[hi:], 1, f[hi:], 1)
		impl.Saxpy(MK-hi, -1, oldRow[hi:], 1, f[hi:], 1)
	}
	b[m] = uint16(k)
}

// icm runs up to sweeps ICM sweeps on b with field f.
func (a *aq) icm(f, P []float32, b []uint16, sweeps int) {
	K := a.K
	for s := 0; s < sweeps; s++ {
		changed := false
		for m := range b {
			fm := f[m*K : (m+1)*K]
			bk, bv := int(b[m]), fm[b[m]]
			for k, v := range fm {
				if v < bv {
					bk, bv = k, v
				}
			}
			if bk != int(b[m]) {
				a.setCode(f, P, b, m, bk)
				changed = true
			}
		}
		if !changed {
			return
		}
	}
}

// energy returns ||x - y||^2 - ||x||^2 for codes b with field f.
func (a *aq) energy(f, u []float32, b []uint16) float64 {
	K := a.K
	var e float64
	for m, c := range b {
		j := m*K + int(c)
		e += float64(u[j]) + float64(f[j])
	}
	return e / 2
}

// encodeRow improves codes in place for one row with unary terms u and
// returns the row's energy ||x-y||^2 - ||x||^2.
func (a *aq) encodeRow(e *encoder, u, P []float32, codes []uint16, rng rowRNG, sweeps, restarts, perturb int) float64 {
	M, K := a.M, a.K
	copy(e.cur, codes)
	a.field(e.f, u, P, e.cur)
	startE := a.energy(e.f, u, e.cur)
	a.icm(e.f, P, e.cur, sweeps)
	bestE := a.energy(e.f, u, e.cur)
	copy(e.best, e.cur)
	copy(e.bestF, e.f)
	for r := 0; r < restarts; r++ {
		copy(e.cur, e.best)
		copy(e.f, e.bestF)
		for p := 0; p < perturb; p++ {
			a.setCode(e.f, P, e.cur, rng.intn(M), rng.intn(K))
		}
		a.icm(e.f, P, e.cur, sweeps)
		if en := a.energy(e.f, u, e.cur); en < bestE {
			bestE = en
			copy(e.best, e.cur)
			copy(e.bestF, e.f)
		}
	}
	if bestE < startE {
		copy(codes, e.best)
		return bestE
	}
	return startE
}
