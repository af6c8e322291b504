package learner

import (
	"context"
	"math"
	"slices"
	"testing"
)

// TestUnaryI16MatchesGeneric wants the same unary terms, bit for bit, from
// the VNNI and AVX2 kernels and the plain loops, and terms within the
// quantisation's bound of the float64 ones.
func TestUnaryI16MatchesGeneric(t *testing.T) {
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	type tcase struct{ n, D, b int }
	var cases []tcase
	// Each size with the int16 products' bits and with bytes' (the VNNI
	// kernel's unaryI8VNNI).
	for _, c := range []tcase{{16, 2, 0}, {48, 100, 0}, {40, 37, 0}, {7, 5, 0}, {32, 2048, 0}} {
		cases = append(cases, tcase{c.n, c.D, i16Bits(c.D)}, tcase{c.n, c.D, byteBits})
	}
	for _, tc := range cases {
		cb := gaussian(tc.n, tc.D, 3)
		x := gaussian(i16Rows-1, tc.D, 4) // a short block: the last row is padding
		norms := make([]float32, tc.n)
		for k := range norms {
			norms[k] = float32(sqNorm(cb[k*tc.D : (k+1)*tc.D]))
		}
		bk := newI16Book(cb, tc.n, tc.D, norms, 1, tc.b)
		xq, mr := make([]int16, i16Rows*bk.Dp), make([]float32, i16Rows)
		bk.quantBlock(xq, mr, x, tc.D)
		var got [][]float32
		for _, m := range []struct{ avx2, avx512 bool }{{false, false}, {true, false}, {true, true}} {
			if (m.avx2 && !hasAVX2) || (m.avx512 && !(has512 && hasVNNI)) {
				continue
			}
			useAVX2, useAVX512 = m.avx2, m.avx512
			u := make([]float32, i16Rows*bk.pad)
			bk.unaryI16(u, xq, mr, &byteRows{})
			got = append(got, u)
		}
		useAVX2, useAVX512 = hasAVX2, has512
		for i := 1; i < len(got); i++ {
			if !slices.Equal(got[0], got[i]) {
				t.Fatalf("n=%d D=%d b=%d: kernel %d's unary terms differ from the plain loops'", tc.n, tc.D, tc.b, i)
			}
		}
		// Each value is off by at most half a step of its grid, a step
		// being 2^(1-b) of the row's (or codeword's) largest magnitude.
		step := math.Ldexp(1, 1-bk.b)
		for r := 0; r < i16Rows-1; r++ {
			xr := x[r*tc.D : (r+1)*tc.D]
			for k := 0; k < tc.n; k++ {
				c := cb[k*tc.D : (k+1)*tc.D]
				var dot, bound float64
				xm, cm := maxAbs(xr), maxAbs(c)
				for d := range xr {
					dot += float64(xr[d]) * float64(c[d])
					bound += step * (xm*math.Abs(float64(c[d])) + cm*math.Abs(float64(xr[d])) + step*xm*cm)
				}
				want := float64(norms[k]) - 2*dot
				if diff := math.Abs(float64(got[0][r*bk.pad+k]) - want); diff > 2*bound+1e-5*math.Abs(want) {
					t.Errorf("n=%d D=%d row %d code %d: unary %g, want %g within %g", tc.n, tc.D, r, k, got[0][r*bk.pad+k], want, 2*bound)
				}
			}
		}
	}
}

func maxAbs(v []float32) float64 {
	var m float64
	for _, x := range v {
		m = math.Max(m, math.Abs(float64(x)))
	}
	return m
}

// TestQuantRow pins quantRow's grid: the largest magnitude in [2^(b-1),
// 2^b), ties to even, the clamp at 2^b - 1, and zeros for rows it cannot
// scale.
func TestQuantRow(t *testing.T) {
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	for _, tc := range []struct {
		v    []float32
		b    int
		want []int16
		mul  float32
	}{
		{[]float32{1, -0.5, 0.25}, 12, []int16{2048, -1024, 512, 0}, 1.0 / 2048},
		{[]float32{-3, 1}, 4, []int16{-12, 4, 0, 0}, 0.25},
		{[]float32{1, 2.5 / 8, 3.5 / 8}, 4, []int16{8, 2, 4, 0}, 0.125},
		{[]float32{1.99999, -1.99999}, 4, []int16{15, -15, 0, 0}, 0.125},
		{[]float32{0, 0}, 12, []int16{0, 0, 0, 0}, 0},
		{[]float32{1, nan}, 12, []int16{0, 0, 0, 0}, 0},
		{[]float32{-inf, 1}, 12, []int16{0, 0, 0, 0}, 0},
	} {
		q := []int16{9, 9, 9, 9}
		if mul := quantRow(q, tc.v, tc.b); mul != tc.mul || !slices.Equal(q, tc.want) {
			t.Errorf("quantRow(%v, %d bits) = %v times %g, want %v times %g", tc.v, tc.b, q, mul, tc.want, tc.mul)
		}
	}
	for _, tc := range []struct{ D, b int }{{1, 15}, {2, 15}, {100, 12}, {101, 12}, {2048, 10}, {65536, 7}} {
		if b := i16Bits(tc.D); b != tc.b {
			t.Errorf("i16Bits(%d) = %d, want %d", tc.D, b, tc.b)
		}
	}
}

// TestQuantTableSameCodes learns a table with its quantised copy kept and
// with its blocks quantised each round, and wants the same bytes: at 8x64,
// whose initial error takes the int16 products, and at 2x16, whose takes
// bytes (the table's kept as bytes too, where the CPU has VNNI).
func TestQuantTableSameCodes(t *testing.T) {
	const V, D = 1201, 37
	data := gaussian(V, D, 6)
	defer func(n int) { maxQuantTable = n }(maxQuantTable)
	for _, cfg := range []Config{{M: 8, K: 64, Seed: 2, Iterations: 4, Threads: 2}, {M: 2, K: 16, Seed: 3, Iterations: 4, Threads: 2}} {
		var got []*Result
		for _, limit := range []int{1 << 28, 0} {
			maxQuantTable = limit
			res, err := Learn(context.Background(), data, V, D, cfg)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, res)
		}
		if !slices.Equal(got[0].Codes, got[1].Codes) || !slices.Equal(got[0].Codebook, got[1].Codebook) {
			t.Fatalf("%dx%d: kept and per-block quantisation learned different results (errors %g and %g)", cfg.M, cfg.K, got[0].Metrics.RelSqErr, got[1].Metrics.RelSqErr)
		}
	}
}

// TestProductBits pins the rule of the encoder's bits: bytes from an
// initial error of byteMinError, the int16 products' bits below it.
func TestProductBits(t *testing.T) {
	for _, tc := range []struct {
		D       int
		initErr float64
		want    int
	}{
		{100, 0.28, byteBits}, {100, byteMinError, byteBits}, {100, 0.0999, 12},
		{16, 0.5, byteBits}, {16, 0.015, 13}, {2048, 0.2, byteBits}, {2048, 0.01, 10},
	} {
		if got := productBits(tc.D, tc.initErr); got != tc.want {
			t.Errorf("productBits(%d, %g) = %d, want %d", tc.D, tc.initErr, got, tc.want)
		}
	}
}
