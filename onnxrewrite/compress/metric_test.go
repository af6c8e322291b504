package compress

import (
	"math"
	"math/rand/v2"
	"testing"
)

// x S S^-1 = x, and |x S|^2 = x (F F^T + ridge I) x^T, for a readout of
// low rank (r < d) and of full rank (r >= d).
func TestPrecond(t *testing.T) {
	for _, c := range []struct{ d, r int }{{16, 3}, {8, 8}, {6, 10}} {
		rng := rand.New(rand.NewPCG(uint64(c.d), uint64(c.r)))
		f := make([]float64, c.d*c.r)
		for i := range f {
			f[i] = rng.NormFloat64()
		}
		p, err := newPrecond(f, c.d, c.r)
		if err != nil {
			t.Fatal(err)
		}
		x := make([]float32, 5*c.d)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		back := p.apply(p.apply(x, false), true)
		for i := range x {
			if math.Abs(float64(back[i]-x[i])) > 1e-4 {
				t.Fatalf("d=%d r=%d: x S S^-1 differs from x at %d: %v vs %v", c.d, c.r, i, back[i], x[i])
			}
		}
		var trace float64
		for _, v := range f {
			trace += v * v
		}
		ridge := MetricRidge * trace / float64(c.d)
		xs := p.apply(x, false)
		for row := 0; row < 5; row++ {
			xr := x[row*c.d : (row+1)*c.d]
			var got, want float64
			for _, v := range xs[row*c.d : (row+1)*c.d] {
				got += float64(v) * float64(v)
			}
			for k := 0; k < c.r; k++ {
				var dot float64
				for i := 0; i < c.d; i++ {
					dot += float64(xr[i]) * f[i*c.r+k]
				}
				want += dot * dot
			}
			for _, v := range xr {
				want += ridge * float64(v) * float64(v)
			}
			if math.Abs(got-want) > 1e-3*want {
				t.Errorf("d=%d r=%d row %d: |x S|^2 = %v, want %v", c.d, c.r, row, got, want)
			}
		}
	}
}
