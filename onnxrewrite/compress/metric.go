package compress

import (
	"fmt"
	"math"

	"gonum.org/v1/gonum/mat"
)

// MetricRidge is added to the readout metric G, relative to its mean
// eigenvalue, before learning in it: directions the readout ignores still
// get a little weight, so that the codebook stays finite there. On the vibe
// model 0.01 measured best of 0.01 and 0.1.
const MetricRidge = 0.01

// precond is S = (G + ridge*I)^(1/2), or its inverse, for learning in the
// metric G = F F^T: codes learned for rows x S with a codebook C' rebuild x
// with the codebook C' S^-1, and |(y - x) S|^2 = (y - x)(G + ridge I)(y - x)^T.
// With G's eigenvectors U (only the r <= D of non-zero eigenvalue l) it is
//
//	S = sqrt(ridge) I + U diag(sqrt(l + ridge) - sqrt(ridge)) U^T
//
// applied to a row in 2*D*r operations: a readout's rank is usually far
// below D (8 on a [128256, 2048] table read by a [2048, 8] weight).
type precond struct {
	d            int
	u            *mat.Dense // [d, r]
	root, inv    []float64  // the diagonal terms of S and S^-1
	base, baseIn float64    // sqrt(ridge), 1/sqrt(ridge)
}

// unitScale returns f times the power of two that brings its largest
// magnitude into [0.5, 1). The metric's scale does not matter to learning
// (the ridge is relative to its trace, and the learner is invariant to a
// power of two), but G = F F^T must not underflow, nor the rows mapped into
// the metric: a readout through a Mul by 1e-300 gives F of about 1e-300.
// Measured: the same output bytes on the example, vibe and the zoo's
// fastText as with F unscaled.
func unitScale(f []float64) []float64 {
	var fmax float64
	for _, v := range f {
		fmax = math.Max(fmax, math.Abs(v))
	}
	_, e := math.Frexp(fmax)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = math.Ldexp(v, -e)
	}
	return out
}

// newPrecond builds the preconditioner of G = F F^T, F being [d, r].
func newPrecond(f []float64, d, r int) (*precond, error) {
	if r == 0 || len(f) != d*r {
		return nil, fmt.Errorf("readout metric: factor of %d values for [%d, %d]", len(f), d, r)
	}
	fm := mat.NewDense(d, r, append([]float64(nil), f...))
	var vals []float64
	var u *mat.Dense
	var eig mat.EigenSym
	if r < d {
		// Eigenvectors of F F^T from the small F^T F = V L V^T: U = F V L^-1/2.
		var ftf mat.SymDense
		ftf.SymOuterK(1, fm.T())
		if !eig.Factorize(&ftf, true) {
			return nil, fmt.Errorf("readout metric: eigendecomposition failed")
		}
		vals = eig.Values(nil)
		var v mat.Dense
		eig.VectorsTo(&v)
		u = mat.NewDense(d, r, nil)
		u.Mul(fm, &v)
		for k, l := range vals {
			if l <= 0 {
				vals[k] = 0
				for i := 0; i < d; i++ {
					u.Set(i, k, 0)
				}
				continue
			}
			for i := 0; i < d; i++ {
				u.Set(i, k, u.At(i, k)/math.Sqrt(l))
			}
		}
	} else {
		var g mat.SymDense
		g.SymOuterK(1, fm)
		if !eig.Factorize(&g, true) {
			return nil, fmt.Errorf("readout metric: eigendecomposition failed")
		}
		vals = eig.Values(nil)
		u = mat.NewDense(d, d, nil)
		eig.VectorsTo(u)
	}
	var trace float64
	for k, l := range vals {
		vals[k] = math.Max(l, 0)
		trace += vals[k]
	}
	if trace <= 0 || math.IsNaN(trace) || math.IsInf(trace, 0) {
		return nil, fmt.Errorf("readout metric is zero or not finite")
	}
	ridge := MetricRidge * trace / float64(d)
	p := &precond{d: d, u: u, base: math.Sqrt(ridge), baseIn: 1 / math.Sqrt(ridge)}
	for _, l := range vals {
		p.root = append(p.root, math.Sqrt(l+ridge)-p.base)
		p.inv = append(p.inv, 1/math.Sqrt(l+ridge)-p.baseIn)
	}
	return p, nil
}

// apply returns rows [n, d] times S, or S^-1 when inverse, in blocks of rows
// so that a large table is not copied to float64 whole.
func (p *precond) apply(rows []float32, inverse bool) []float32 {
	d, r := p.d, len(p.root)
	diag, base := p.root, p.base
	if inverse {
		diag, base = p.inv, p.baseIn
	}
	n := len(rows) / d
	out := make([]float32, len(rows))
	const block = 4096
	buf := make([]float64, block*d)
	var xu, back mat.Dense
	for r0 := 0; r0 < n; r0 += block {
		r1 := min(r0+block, n)
		x := mat.NewDense(r1-r0, d, buf[:(r1-r0)*d])
		for i, v := range rows[r0*d : r1*d] {
			buf[i] = float64(v)
		}
		xu.Reset()
		xu.Mul(x, p.u) // [b, r]
		for i := 0; i < r1-r0; i++ {
			for k := 0; k < r; k++ {
				xu.Set(i, k, xu.At(i, k)*diag[k])
			}
		}
		back.Reset()
		back.Mul(&xu, p.u.T()) // [b, d]
		for i := r0; i < r1; i++ {
			for j := 0; j < d; j++ {
				out[i*d+j] = float32(base*x.At(i-r0, j) + back.At(i-r0, j))
			}
		}
	}
	return out
}
