package learner

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/internal/half"
)

// TestCrossTermsLayout wants crossTerms' rows to hold 2<c_i, c_j>, scaled
// and rounded to float16, for every codeword j of the other codebooks (and
// zeros in their own codebook's block), and the field and an ICM sweep
// over them to match a plain reference.
func TestCrossTermsLayout(t *testing.T) {
	for _, tc := range []struct{ M, K, D int }{{1, 8, 5}, {3, 16, 9}, {4, 5, 6}, {5, 32, 17}} {
		MK := tc.M * tc.K
		a := newAQ(nil, 0, tc.D, Config{M: tc.M, K: tc.K, Threads: 2})
		a.cb = gaussian(MK, tc.D, 7)
		inv := halfScale(a.cb, tc.D)
		cs := slices.Clone(a.cb)
		for j := range cs {
			cs[j] *= inv
		}
		P, _, err := a.crossTerms(context.Background(), cs)
		if err != nil {
			t.Fatal(err)
		}
		full := P.h
		for i := 0; i < MK; i++ {
			for j := 0; j < MK; j++ {
				if i/tc.K == j/tc.K {
					if full[i*MK+j] != 0 {
						t.Fatalf("M=%d K=%d: cross term (%d, %d) of one codebook is %#04x, not 0", tc.M, tc.K, i, j, full[i*MK+j])
					}
					continue
				}
				var dot float64
				for d := 0; d < tc.D; d++ {
					dot += float64(a.cb[i*tc.D+d]) * float64(a.cb[j*tc.D+d])
				}
				want := 2 * dot * float64(inv)
				if got := float64(half.ToFloat32(full[i*MK+j])); math.Abs(got-want) > math.Abs(want)/1024+1e-3 {
					t.Fatalf("M=%d K=%d: cross term (%d, %d) %g, want %g", tc.M, tc.K, i, j, got, want)
				}
			}
		}
		rng := rand.New(rand.NewPCG(1, uint64(MK)))
		for trial := 0; trial < 10; trial++ {
			u := gaussian(1, MK, uint64(trial))
			b := make([]uint16, tc.M)
			for m := range b {
				b[m] = uint16(rng.IntN(tc.K))
			}
			f, want := make([]float32, MK), make([]float32, MK)
			P.field(f, u, b, make([]int, tc.M), make([]int, tc.M))
			for j := range want {
				want[j] = u[j]
				for m, c := range b {
					if m != j/tc.K {
						want[j] += half.ToFloat32(full[(m*tc.K+int(c))*MK+j])
					}
				}
			}
			if !slices.Equal(f, want) {
				t.Fatalf("M=%d K=%d: field %v, want %v", tc.M, tc.K, f, want)
			}
			b2 := slices.Clone(b)
			P.icm(f, b, tc.M) // one sweep
			for m, c := range b2 {
				fm := want[m*tc.K : (m+1)*tc.K]
				k := slices.Index(fm, slices.Min(fm))
				if !(fm[k] < fm[c]) {
					continue
				}
				for j := range want {
					if j/tc.K != m {
						want[j] += half.ToFloat32(full[(m*tc.K+k)*MK+j]) - half.ToFloat32(full[(m*tc.K+int(c))*MK+j])
					}
				}
				b2[m] = uint16(k)
			}
			if !slices.Equal(b, b2) || !slices.Equal(f, want) {
				t.Fatalf("M=%d K=%d: a sweep gave codes %v, want %v (or another field)", tc.M, tc.K, b, b2)
			}
		}
	}
}

// TestSqDiff checks rowError's squared distance against a plain sum at
// every length of tail, the AVX-512 kernel against the Go lanes bit for
// bit, and the lanes' order on values whose float64 sum depends on it.
func TestSqDiff(t *testing.T) {
	rng := rand.New(rand.NewPCG(15, 16))
	has512 := useAVX512
	defer func() { useAVX512 = has512 }()
	for _, n := range []int{0, 1, 3, 7, 8, 9, 15, 16, 17, 100, 101} {
		x, y := make([]float32, n), make([]float32, n)
		var want float64
		for d := range x {
			x[d] = float32(rng.NormFloat64())
			y[d] = float32(rng.NormFloat64())
			r := float64(x[d]) - float64(y[d])
			want += r * r
		}
		useAVX512 = false
		generic := sqDiff(x, y)
		useAVX512 = has512
		got := sqDiff(x, y)
		if math.Abs(got-want) > 1e-12*want {
			t.Errorf("n=%d: sqDiff %g, want %g", n, got, want)
		}
		if math.Float64bits(got) != math.Float64bits(generic) {
			t.Errorf("n=%d: sqDiff %v, in Go %v", n, got, generic)
		}
	}
	// Squares 2^52, 1, 2^52, 1: (0+2) + (1+3) is 2^53+2 exactly, where a
	// running sum in order rounds 2^53+1 to 2^53 and loses both 1s.
	x := []float32{1 << 26, 1, 1 << 26, 1}
	for _, avx := range []bool{false, has512} {
		useAVX512 = avx
		if got := sqDiff(x, make([]float32, 4)); got != float64(1<<53)+2 {
			t.Errorf("AVX-512 %v: sqDiff %v = %v, want 2^53+2", avx, x, got)
		}
	}
}
