package learner

import "context"

// The field encoder (encode) keeps the cross terms P of every pair of
// codewords, (M*K)^2 values: 64 MB at 16x256, 1 GiB at 4x4096, 68 GB at
// 2x65536. Past maxFieldMK codewords the residual encoder below runs
// instead: it keeps the row's residual (D values) and finds a codebook's
// best code from its K codewords' products with it, K*D multiply-adds a
// move and no cross terms. Where both fit it is slower (GloVe's first 16
// columns, 12 rounds at 8x256: the same 0.0092 in 27 s of CPU against 11 s
// with the field), so it only serves the codebooks the field cannot hold.

// maxFieldMK is the most codewords the field encoder takes: P is then
// 256 MiB.
const maxFieldMK = 8192

// resEncoder holds per-worker scratch space of the residual encoder.
type resEncoder struct {
	r, bestR  []float32 // residual x - y, D values
	dot       []float32 // K products
	cur, best []uint16
}

// encodeRes is encode by the residual encoder: the same ICM sweeps (each
// codebook in turn moves to its code of least error given the others, when
// that is strictly less than the current one's) and perturbation restarts,
// from each row's current codes, a row's codes changing only when its error
// decreases.
func (a *aq) encodeRes(ctx context.Context, round int, o encodeOpts) (float64, error) {
	V, D, M, K := a.V, a.D, a.M, a.K
	norms := make([]float32, a.MK)
	for j := range norms {
		norms[j] = float32(sqNorm(a.cb[j*D : (j+1)*D]))
	}
	nChunks := (V + chunkRows - 1) / chunkRows
	errSum := make([]float64, nChunks)
	encs := make([]*resEncoder, a.threads)
	for t := range encs {
		encs[t] = &resEncoder{r: make([]float32, D), bestR: make([]float32, D), dot: make([]float32, K),
			cur: make([]uint16, M), best: make([]uint16, M)}
	}
	err := forChunks(ctx, V, chunkRows, a.threads, func(t, lo, hi int) {
		e := encs[t]
		var es float64
		for i := lo; i < hi; i++ {
			codes := a.codes[i*M : (i+1)*M]
			en := a.encodeRowRes(e, norms, i, codes, newRowRNG(a.seed, round, i), o)
			es += a.weight(i) * en
		}
		errSum[lo/chunkRows] = es
	})
	if err != nil {
		return 0, err
	}
	return a.setError(ctx, errSum)
}

// setResidual sets r to row i less the sum of its codewords for codes.
func (a *aq) setResidual(r []float32, i int, codes []uint16) {
	D, K := a.D, a.K
	copy(r, a.x[i*D:(i+1)*D])
	for m, c := range codes {
		j := m*K + int(c)
		axpy(r, a.cb[j*D:(j+1)*D], -1)
	}
}

// icmRes runs up to sweeps ICM sweeps on b with residual e.r: codebook m's
// code k costs norms[k] - 2<r + c_b, c_k>, the row's squared error less a
// term that does not depend on k.
func (a *aq) icmRes(e *resEncoder, norms []float32, b []uint16, sweeps int) {
	D, K := a.D, a.K
	for s := 0; s < sweeps; s++ {
		changes := 0
		for m, c := range b {
			cur := m*K + int(c)
			axpy(e.r, a.cb[cur*D:(cur+1)*D], 1)
			dots(e.dot, e.r, a.cb[m*K*D:(m+1)*K*D])
			unary(e.dot, norms[m*K:(m+1)*K])
			k := minIndex(e.dot)
			if e.dot[k] < e.dot[c] {
				b[m] = uint16(k)
				changes++
			} else {
				k = int(c)
			}
			axpy(e.r, a.cb[(m*K+k)*D:(m*K+k+1)*D], -1)
		}
		if changes == 0 {
			return
		}
	}
}

// descendRes runs ICM from e.cur and returns the squared error of the
// codes it ends at, from their residual afresh (the sweeps' updates of
// the residual round).
func (a *aq) descendRes(e *resEncoder, norms []float32, i, sweeps int) float64 {
	a.icmRes(e, norms, e.cur, sweeps)
	a.setResidual(e.r, i, e.cur)
	return sqNorm(e.r)
}

// encodeRowRes improves codes in place for row i and returns the row's
// squared error.
func (a *aq) encodeRowRes(e *resEncoder, norms []float32, i int, codes []uint16, rng rowRNG, o encodeOpts) float64 {
	M, K, D := a.M, a.K, a.D
	copy(e.cur, codes)
	a.setResidual(e.r, i, e.cur)
	startE := sqNorm(e.r)
	bestE := a.descendRes(e, norms, i, o.sweeps)
	copy(e.best, e.cur)
	copy(e.bestR, e.r)
	for r := 0; r < o.restarts; r++ {
		copy(e.cur, e.best)
		copy(e.r, e.bestR)
		for p := 0; p < o.perturb; p++ {
			m, k := rng.intn(M), rng.intn(K)
			old, nw := m*K+int(e.cur[m]), m*K+k
			axpy(e.r, a.cb[old*D:(old+1)*D], 1)
			axpy(e.r, a.cb[nw*D:(nw+1)*D], -1)
			e.cur[m] = uint16(k)
		}
		if en := a.descendRes(e, norms, i, o.sweeps); en < bestE {
			bestE = en
			copy(e.best, e.cur)
			copy(e.bestR, e.r)
		}
	}
	if bestE < startE {
		copy(codes, e.best)
		return bestE
	}
	return startE
}
