package learner

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestKernelsMatchGeneric checks the AVX2 kernels against plain loops, bit
// for bit, on lengths around their block sizes, with ties and signed zeros.
func TestKernelsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 256, 496, 512, 1000} {
		for trial := 0; trial < 50; trial++ {
			f, a, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for j := range f {
				f[j], a[j], b[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*1e3), float32(rng.NormFloat64())
			}
			want := make([]float32, n)
			for j := range want {
				want[j] = f[j] + (a[j] - b[j])
			}
			g := append([]float32(nil), f...)
			axpy(g, a, 0.37)
			for j := range g {
				if w := f[j] + float32(0.37*a[j]); math.Float32bits(g[j]) != math.Float32bits(w) {
					t.Fatalf("axpy n=%d [%d]: %g, want %g", n, j, g[j], w)
				}
			}
			addDiff(f, a, b)
			for j := range f {
				if math.Float32bits(f[j]) != math.Float32bits(want[j]) {
					t.Fatalf("addDiff n=%d [%d]: %g, want %g", n, j, f[j], want[j])
				}
			}
			v := make([]float32, n)
			for j := range v {
				v[j] = float32(rng.IntN(5)) // many ties
			}
			if trial%5 == 0 {
				v[rng.IntN(n)], v[rng.IntN(n)] = float32(math.Copysign(0, -1)), 0
			}
			c := make([]float32, 7*n)
			for j := range c {
				c[j] = float32(rng.NormFloat64())
			}
			for _, rows := range []int{1, 3, 4, 5, 7} {
				got, want := make([]float32, rows), make([]float32, rows)
				dots(got, f, c)
				dotsGeneric(want, f, c[:rows*n])
				for k := range got {
					if math.Float32bits(got[k]) != math.Float32bits(want[k]) {
						t.Fatalf("dots n=%d rows=%d [%d]: %g, want %g", n, rows, k, got[k], want[k])
					}
				}
			}
			if got, want := minIndex(v), minIndexGeneric(v); got != want {
				t.Fatalf("minIndex n=%d of %v: %d, want %d", n, v, got, want)
			}
		}
	}
}
