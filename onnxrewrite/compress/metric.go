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

// precond is S = (G + ridge*I)^(1/2) and its inverse, for learning in the
// metric G: codes learned for rows S x with a codebook C' reconstruct x
// with the codebook S^-1 C', and |S (y - x)|^2 = (y - x)^T (G + ridge I) (y - x).
type precond struct {
	d       int
	s, sInv *mat.Dense
}

func newPrecond(g []float64, d int) (*precond, error) {
	var eig mat.EigenSym
	if !eig.Factorize(mat.NewSymDense(d, append([]float64(nil), g...)), true) {
		return nil, fmt.Errorf("readout metric: eigendecomposition failed")
	}
	vals := eig.Values(nil)
	var mean float64
	for _, v := range vals {
		mean += math.Max(v, 0) / float64(d)
	}
	if mean <= 0 || math.IsNaN(mean) || math.IsInf(mean, 0) {
		return nil, fmt.Errorf("readout metric is zero or not finite")
	}
	var vec mat.Dense
	eig.VectorsTo(&vec)
	root, inv := mat.NewDense(d, d, nil), mat.NewDense(d, d, nil)
	for k, v := range vals {
		l := math.Max(v, 0) + MetricRidge*mean
		for i := 0; i < d; i++ {
			for j := 0; j < d; j++ {
				p := vec.At(i, k) * vec.At(j, k)
				root.Set(i, j, root.At(i, j)+p*math.Sqrt(l))
				inv.Set(i, j, inv.At(i, j)+p/math.Sqrt(l))
			}
		}
	}
	return &precond{d: d, s: root, sInv: inv}, nil
}

// apply returns rows [n, d] multiplied by m (symmetric), in blocks of rows
// so that a large table is not copied to float64 whole.
func (p *precond) apply(rows []float32, m *mat.Dense) []float32 {
	d := p.d
	n := len(rows) / d
	out := make([]float32, len(rows))
	const block = 4096
	buf := make([]float64, block*d)
	var res mat.Dense
	for r0 := 0; r0 < n; r0 += block {
		r1 := min(r0+block, n)
		x := mat.NewDense(r1-r0, d, buf[:(r1-r0)*d])
		for i, v := range rows[r0*d : r1*d] {
			buf[i] = float64(v)
		}
		res.Reset()
		res.Mul(x, m)
		for i := r0; i < r1; i++ {
			for j := 0; j < d; j++ {
				out[i*d+j] = float32(res.At(i-r0, j))
			}
		}
	}
	return out
}
