package learner

import (
	"context"
	"math"
)

// cgIters is the number of conjugate-gradient steps of a refit; a
// refinement round starting from the last refit's codebook takes
// warmCGSteps (see refinement.refit).
const (
	cgIters     = 6
	warmCGSteps = 2
)

// refitCG lowers the weighted error for the current codes by steps steps
// of conjugate gradients on the normal equations (G + λI) C = B, started
// from the current codebook and preconditioned by G's diagonal (the
// codewords' weighted counts). A step costs one pass over the codes, 2*V*M*D
// multiply-adds, whatever K, where the Cholesky factorisation of refit costs
// (M*K)^3/3 (GloVe 50k at 8x256: 0.7 s of a core a round). Each step lowers
// the error (conjugate gradients minimise the quadratic over a growing
// subspace that holds the start), so a round still never raises it.
func (a *aq) refitCG(ctx context.Context, steps int) error {
	MK, D := a.MK, a.D
	n := MK * D
	cnt := a.codeCounts()
	var trace float64
	for _, c := range cnt {
		trace += c
	}
	lambda := orDefaultF(a.cfg.Ridge, defaultRidge) * trace / float64(MK)
	if !(lambda > 0) {
		lambda = 1e-12
	}
	x := make([]float64, n)
	for j, v := range a.cb {
		x[j] = float64(v)
	}
	// r = B - (G + λI) x: the codes' sums of the rows' residuals.
	r, err := a.normalApply(ctx, a.cb, true)
	if err != nil {
		return err
	}
	for j := range r {
		r[j] -= lambda * x[j]
	}
	z := make([]float64, n)
	precond := func() float64 {
		var rz float64
		for k := 0; k < MK; k++ {
			inv := 1 / (cnt[k] + lambda)
			for j := k * D; j < (k+1)*D; j++ {
				z[j] = r[j] * inv
				rz += r[j] * z[j]
			}
		}
		return rz
	}
	rz := precond()
	p := append([]float64(nil), z...)
	p32 := make([]float32, n)
	for it := 0; it < steps && rz > 0; it++ {
		for j, v := range p {
			p32[j] = float32(v)
		}
		q, err := a.normalApply(ctx, p32, false)
		if err != nil {
			return err
		}
		var pq float64
		for j := range q {
			q[j] += lambda * p[j]
			pq += p[j] * q[j]
		}
		if !(pq > 0) {
			break
		}
		alpha := rz / pq
		for j := range x {
			x[j] += alpha * p[j]
			r[j] -= alpha * q[j]
		}
		rzNew := precond()
		beta := rzNew / rz
		rz = rzNew
		for j := range p {
			p[j] = z[j] + beta*p[j]
		}
	}
	for _, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil // keep the codebook as it was
		}
	}
	for j, v := range x {
		a.cb[j] = float32(v)
	}
	return nil
}

// codeCounts returns the weighted number of rows with each code.
func (a *aq) codeCounts() []float64 {
	M, K := a.M, a.K
	cnt := make([]float64, a.MK)
	for i := 0; i < a.V; i++ {
		w := a.weight(i)
		if w == 0 {
			continue
		}
		for m, c := range a.codes[i*M : (i+1)*M] {
			cnt[m*K+int(c)] += w
		}
	}
	return cnt
}

// normalApply returns A^T W (X - A y) when residual is true, else A^T W A y,
// for y an [M*K, D] codebook and A the rows' codes as 0/1 rows: each row's
// sum of its codewords (less the row, negated, for the residual), added
// into its M codewords' rows. The rows are summed in refitParts fixed parts
// added in order, as in codewordSums, so the result does not depend on the
// thread count.
func (a *aq) normalApply(ctx context.Context, y []float32, residual bool) ([]float64, error) {
	M := a.M
	return a.scatterSums(ctx, func(i int, s []float32) []float32 {
		a.rowSum(s, y, a.codes[i*M:(i+1)*M], residual, i)
		return s
	})
}

// rowSum sets s to the sum of row i's codewords in y, or with residual to
// row i less that sum.
func (a *aq) rowSum(s, y []float32, code []uint16, residual bool, i int) {
	D := a.D
	codewordSum(s, y, code, a.K)
	if residual {
		for j, v := range a.x[i*D : (i+1)*D] {
			s[j] = v - s[j]
		}
	}
}
