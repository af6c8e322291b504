package learner

import (
	"context"
	"math"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// encoder holds per-worker scratch space for ICM encoding.
type encoder struct {
	u, f, bestF []float32
	cur, best   []uint16
	g1, g2      []float32 // pair moves' fields, [K] each
	perm        []int     // pair moves' pairing, [M]
	// beam search: fields [B, MK], codes [B, M] and energies [B] of the
	// partial codes, twice (current and next step)
	beamF, beamF2         []float32
	beamCodes, beamCodes2 []uint16
	beamE, beamE2         []float64
	candE                 []float64
	candI                 []int
}

// encode re-encodes every row against the current codebook, starting from
// its current codes, with ICM sweeps and perturbation restarts; a row's codes
// only change when its error decreases. It returns the weighted relative
// squared error.
func (a *aq) encode(ctx context.Context, round int, o encodeOpts) (float64, error) {
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
			bestF: make([]float32, MK), cur: make([]uint16, M), best: make([]uint16, M),
			g1: make([]float32, a.K), g2: make([]float32, a.K), perm: make([]int, M)}
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
			en := a.encodeRow(e, ur, P, codes, newRowRNG(a.seed, round, i), o)
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
func (a *aq) encodeRow(e *encoder, u, P []float32, codes []uint16, rng rowRNG, o encodeOpts) float64 {
	sweeps, restarts, perturb := o.sweeps, o.restarts, o.perturb
	M, K := a.M, a.K
	copy(e.cur, codes)
	a.field(e.f, u, P, e.cur)
	startE := a.energy(e.f, u, e.cur)
	a.search(e, P, e.cur, sweeps, o.pairs, &rng)
	bestE := a.energy(e.f, u, e.cur)
	copy(e.best, e.cur)
	copy(e.bestF, e.f)
	for r := 0; r < restarts; r++ {
		copy(e.cur, e.best)
		copy(e.f, e.bestF)
		for p := 0; p < perturb; p++ {
			a.setCode(e.f, P, e.cur, rng.intn(M), rng.intn(K))
		}
		a.search(e, P, e.cur, sweeps, o.pairs, &rng)
		if en := a.energy(e.f, u, e.cur); en < bestE {
			bestE = en
			copy(e.best, e.cur)
			copy(e.bestF, e.f)
		}
	}
	if o.beam > 0 {
		a.beamSearch(e, u, P, o.beam)
		copy(e.cur, e.beamCodes[:M])
		a.field(e.f, u, P, e.cur)
		a.search(e, P, e.cur, sweeps, o.pairs, &rng)
		if en := a.energy(e.f, u, e.cur); en < bestE {
			bestE = en
			copy(e.best, e.cur)
		}
	}
	if bestE < startE {
		copy(codes, e.best)
		return bestE
	}
	return startE
}

// search runs ICM on b, then up to pairs rounds of joint moves of pairs of
// codebooks (each followed by ICM again while they improve).
func (a *aq) search(e *encoder, P []float32, b []uint16, sweeps, pairs int, rng *rowRNG) {
	a.icm(e.f, P, b, sweeps)
	for p := 0; p < pairs; p++ {
		if !a.pairSweep(e, P, b, rng) {
			return
		}
		a.icm(e.f, P, b, sweeps)
	}
}

// pairSweep pairs the codebooks at random and moves every pair to its best
// joint choice of codes (K*K candidates) given the others. It reports
// whether any code changed.
func (a *aq) pairSweep(e *encoder, P []float32, b []uint16, rng *rowRNG) bool {
	M, K, MK := a.M, a.K, a.MK
	perm := e.perm
	for i := range perm {
		perm[i] = i
	}
	for i := M - 1; i > 0; i-- {
		j := rng.intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	f := e.f
	changed := false
	for pi := 0; pi+1 < M; pi += 2 {
		m1, m2 := perm[pi], perm[pi+1]
		b1, b2 := int(b[m1]), int(b[m2])
		// g1, g2: the fields of m1 and m2 without each other's term.
		g1, g2 := e.g1, e.g2
		for k := 0; k < K; k++ {
			g1[k] = f[m1*K+k] - P[(m1*K+k)*MK+m2*K+b2]
			g2[k] = f[m2*K+k] - P[(m2*K+k)*MK+m1*K+b1]
		}
		bk1, bk2 := b1, b2
		bv := g1[b1] + g2[b2] + P[(m1*K+b1)*MK+m2*K+b2]
		for k1 := 0; k1 < K; k1++ {
			row := P[(m1*K+k1)*MK+m2*K:][:K]
			base := g1[k1]
			for k2, p := range row {
				if v := base + g2[k2] + p; v < bv {
					bv, bk1, bk2 = v, k1, k2
				}
			}
		}
		if bk1 != b1 || bk2 != b2 {
			if bk1 != b1 {
				a.setCode(f, P, b, m1, bk1)
			}
			if bk2 != b2 {
				a.setCode(f, P, b, m2, bk2)
			}
			changed = true
		}
	}
	return changed
}

// beamSearch encodes a row from scratch, codebook by codebook in order,
// keeping the B best partial codes; the best full code is left in
// e.beamCodes[:M].
func (a *aq) beamSearch(e *encoder, u, P []float32, B int) {
	M, K, MK := a.M, a.K, a.MK
	if len(e.beamF) < B*MK {
		e.beamF, e.beamF2 = make([]float32, B*MK), make([]float32, B*MK)
		e.beamCodes, e.beamCodes2 = make([]uint16, B*M), make([]uint16, B*M)
		e.beamE, e.beamE2 = make([]float64, B), make([]float64, B)
		e.candE, e.candI = make([]float64, B*K), make([]int, B*K)
	}
	n := 1
	copy(e.beamF[:MK], u)
	e.beamE[0] = 0
	impl := blas32.Implementation()
	for m := 0; m < M; m++ {
		// Candidates (entry, k); keep the B lowest by insertion.
		nc := 0
		for b := 0; b < n; b++ {
			f := e.beamF[b*MK+m*K:][:K]
			for k, v := range f {
				en := e.beamE[b] + float64(v)
				if nc == B && en >= e.candE[nc-1] {
					continue
				}
				j := min(nc, B-1)
				for j > 0 && e.candE[j-1] > en {
					e.candE[j], e.candI[j] = e.candE[j-1], e.candI[j-1]
					j--
				}
				e.candE[j], e.candI[j] = en, b*K+k
				nc = min(nc+1, B)
			}
		}
		for c := 0; c < nc; c++ {
			b, k := e.candI[c]/K, e.candI[c]%K
			nf := e.beamF2[c*MK : (c+1)*MK]
			copy(nf, e.beamF[b*MK:(b+1)*MK])
			impl.Saxpy(MK, 1, P[(m*K+k)*MK:], 1, nf, 1)
			copy(e.beamCodes2[c*M:c*M+m], e.beamCodes[b*M:b*M+m])
			e.beamCodes2[c*M+m] = uint16(k)
			e.beamE2[c] = e.candE[c]
		}
		n = nc
		e.beamF, e.beamF2 = e.beamF2, e.beamF
		e.beamCodes, e.beamCodes2 = e.beamCodes2, e.beamCodes
		e.beamE, e.beamE2 = e.beamE2, e.beamE
	}
}
