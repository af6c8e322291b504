package learner

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/internal/half"
)

// TestRoundQ8 checks roundQ8's values: q*2^e with |q| <= 127 and e the
// least power that allows it (at least -24), ties to even, zeros +0, the
// int8 values and scales the same numbers, and every value exact in
// float16.
func TestRoundQ8(t *testing.T) {
	const K = 16
	for _, tc := range []struct {
		in, want []float32
		scale    float32
	}{
		{[]float32{127, -1, 0.5, 1.5}, []float32{127, -1, 0, 2}, 1},
		{[]float32{127.5, 1, 0, 0}, []float32{128, 0, 0, 0}, 2},
		{[]float32{128, 3, -2, 1}, []float32{128, 4, -2, 0}, 2},
		{[]float32{-254, 1, 3, 5}, []float32{-254, 0, 4, 4}, 2},
		{[]float32{63.5, -0.25, 0.75, 0.2}, []float32{63.5, 0, 1, 0}, 0.5},
		{[]float32{0, float32(math.Copysign(0, -1)), -1e-3, 0}, []float32{0, 0, -66.0 / (1 << 16), 0}, 1.0 / (1 << 16)},
		{[]float32{1e-9, -3e-8, 0, 0}, []float32{0, -0x1p-24, 0, 0}, 0x1p-24},
		{[]float32{20000, -16383, 7, 0}, []float32{19968, -16384, 0, 0}, 256},
	} {
		// Blocks of 16 (the kernels' step): the values, then zeros.
		row := append(slices.Clone(tc.in), make([]float32, K-len(tc.in))...)
		roundQ8(row, K, nil, nil)
		for _, wide := range []bool{useAVX512, false} {
			if !useAVX2 {
				break
			}
			has512 := useAVX512
			useAVX512 = wide
			q, s := make([]int8, K), make([]float32, 1)
			in := append(slices.Clone(tc.in), make([]float32, K-len(tc.in))...)
			roundQ8(in, K, q, s)
			useAVX512 = has512
			if s[0] != tc.scale {
				t.Errorf("%v wide=%v: scale %g, want %g", tc.in, wide, s[0], tc.scale)
			}
			for j, v := range row[:len(tc.in)] {
				if float32(q[j])*s[0] != v {
					t.Errorf("%v wide=%v: int8 %d times %g is not %g", tc.in, wide, q[j], s[0], v)
				}
			}
		}
		for j, v := range row[:len(tc.in)] {
			if math.Float32bits(v) != math.Float32bits(tc.want[j]) {
				t.Errorf("%v: value %d is %g, want %g", tc.in, j, v, tc.want[j])
			}
			if half.ToFloat32(half.FromFloat32(v)) != v {
				t.Errorf("%v: %g is not exact in float16", tc.in, v)
			}
		}
	}
}

// q8Case is random int8 cross terms of M codebooks of K codes (zero
// diagonal blocks, small values and scales for ties) with the same values
// in float16.
func q8Case(rng *rand.Rand, M, K int) (q []int8, s []float32, h []uint16) {
	MK := M * K
	q, s, h = make([]int8, MK*MK), make([]float32, MK*M), make([]uint16, MK*MK)
	for r := 0; r < MK; r++ {
		for m := 0; m < M; m++ {
			s[r*M+m] = float32(math.Ldexp(1, rng.IntN(5)-3))
			if m == r/K {
				continue
			}
			for j := m * K; j < (m+1)*K; j++ {
				q[r*MK+j] = int8(rng.IntN(7) - 3)
				if rng.IntN(50) == 0 {
					q[r*MK+j] = int8(rng.IntN(255) - 127)
				}
				h[r*MK+j] = half.FromFloat32(float32(q[r*MK+j]) * s[r*M+m])
			}
		}
	}
	return q, s, h
}

// tiedField is n values with ties and signed zeros.
func tiedField(rng *rand.Rand, n int) []float32 {
	f := make([]float32, n)
	for j := range f {
		f[j] = float32(rng.IntN(9)) / 2
		if f[j] == 0 && rng.IntN(2) == 0 {
			f[j] = float32(math.Copysign(0, -1))
		}
	}
	return f
}

func sameBits(a, b []float32) bool {
	return slices.EqualFunc(a, b, func(x, y float32) bool { return math.Float32bits(x) == math.Float32bits(y) })
}

// TestQ8KernelsMatchHalves checks the AVX-512 and AVX2 kernels over int8
// cross terms against the Go loops over the same values in float16, bit
// for bit: the field, a restart's field and ICM runs of 1, 2 and 4 sweeps.
func TestQ8KernelsMatchHalves(t *testing.T) {
	if !useAVX2 {
		t.Skip("the int8 cross terms' kernels need AVX2, which this CPU lacks; the Go loops run instead")
	}
	has512 := useAVX512
	defer func() { useAVX2, useAVX512 = true, has512 }()
	rng := rand.New(rand.NewPCG(8, 9))
	for _, wide := range []bool{has512, false} {
		for _, tc := range []struct{ M, K int }{{1, 16}, {2, 64}, {3, 80}, {4, 256}, {5, 48}, {2, 144}, {3, 8}, {2, 24}, {4, 40}} {
			for trial := 0; trial < 10; trial++ {
				checkQ8Kernels(t, rng, tc.M, tc.K, wide)
			}
		}
	}
}

// checkQ8Kernels runs one trial of TestQ8KernelsMatchHalves, the int8
// kernels with AVX-512 on or off.
func checkQ8Kernels(t *testing.T, rng *rand.Rand, M, K int, wide bool) {
	t.Helper()
	MK := M * K
	q, s, h := q8Case(rng, M, K)
	Q, H := &crossTab{q: q, s: s, M: M, K: K}, &crossTab{h: h, M: M, K: K}
	// run calls fq with the int8 kernels, then fh with the Go loops.
	run := func(fq, fh func()) {
		useAVX2, useAVX512 = true, wide
		fq()
		useAVX2, useAVX512 = false, false
		fh()
		useAVX2, useAVX512 = true, wide
	}
	u := tiedField(rng, MK)
	b := make([]uint16, M)
	for m := range b {
		b[m] = uint16(rng.IntN(K))
	}
	off, soff := make([]int, M), make([]int, M)
	fq, fh := make([]float32, MK), make([]float32, MK)
	run(func() { Q.field(fq, u, b, off, soff) }, func() { H.field(fh, u, b, off, soff) })
	if !sameBits(fq, fh) {
		t.Fatalf("M=%d K=%d wide=%v: field %v, want %v", M, K, wide, fq, fh)
	}
	rows := make([]int, 0, 6)
	for p := 0; p < 3; p++ {
		m := rng.IntN(M)
		rows = append(rows, (m*K+rng.IntN(K))*MK, (m*K+rng.IntN(K))*MK)
	}
	base := tiedField(rng, MK)
	run(func() { Q.restart(fq, base, rows, make([]int, len(rows))) }, func() { H.restart(fh, base, rows, nil) })
	if !sameBits(fq, fh) {
		t.Fatalf("M=%d K=%d wide=%v: restart field %v, want %v", M, K, wide, fq, fh)
	}
	// A field as the encoder's are, with no -0 (which a plain sweep turns
	// to +0 in a changed codebook's own block, and the AVX-512 kernels,
	// skipping that block, keep).
	H.field(fh, u, b, off, soff)
	for _, sweeps := range []int{1, 2, 4} {
		fq, bq := slices.Clone(fh), slices.Clone(b)
		fh, bh := slices.Clone(fh), slices.Clone(b)
		run(func() { Q.icm(fq, bq, sweeps*M) }, func() { icmRunGeneric(fh, h, bh, K, sweeps*M) })
		if !slices.Equal(bq, bh) || !sameBits(fq, fh) {
			t.Fatalf("M=%d K=%d wide=%v, %d sweeps: codes %v, want %v (or another field)", M, K, wide, sweeps, bq, bh)
		}
	}
}

// TestCrossTermsQ8 wants a codebook of 3072 codewords, past q8MinMK, to
// give cross terms rounded to int8 values, kept as int8 with AVX-512 or
// AVX2 and as float16 without, the same numbers every way.
func TestCrossTermsQ8(t *testing.T) {
	if !useAVX2 {
		t.Skip("int8 cross terms are kept only with AVX2, which this CPU lacks")
	}
	has512 := useAVX512
	defer func() { useAVX2, useAVX512 = true, has512 }()
	const M, K, D = 12, 256, 3
	MK := M * K
	cb := gaussian(MK, D, 5)
	cross := func(avx2, wide bool) *crossTab {
		useAVX2, useAVX512 = avx2, wide
		a := newAQ(nil, 0, D, Config{M: M, K: K, Threads: 2})
		a.cb = cb
		P, _, err := a.crossTerms(context.Background(), slices.Clone(cb))
		if err != nil {
			t.Fatal(err)
		}
		return P
	}
	W, Q, H := cross(true, has512), cross(true, false), cross(false, false)
	if Q.q == nil || H.h == nil || H.q != nil {
		t.Fatalf("kept int8 %v with AVX2, int8 %v and float16 %v without", Q.q != nil, H.q != nil, H.h != nil)
	}
	if !slices.Equal(W.q, Q.q) || !slices.Equal(W.s, Q.s) {
		t.Fatalf("AVX-512 and AVX2 rounded the cross terms to different int8 values")
	}
	for r := 0; r < MK; r++ {
		for j := 0; j < MK; j++ {
			var want float64
			if r/K != j/K {
				want = 2 * (float64(cb[r*D]*cb[j*D]) + float64(cb[r*D+1]*cb[j*D+1]) + float64(cb[r*D+2]*cb[j*D+2]))
			}
			got := float32(Q.q[r*MK+j]) * Q.s[r*M+j/K]
			if h := half.ToFloat32(H.h[r*MK+j]); math.Float32bits(h) != math.Float32bits(got) {
				t.Fatalf("cross term (%d, %d): int8 %g, float16 %g", r, j, got, h)
			}
			if math.Abs(float64(got)-want) > float64(Q.s[r*M+j/K])/2+1e-6*math.Abs(want) {
				t.Fatalf("cross term (%d, %d) %g, want %g to within half its scale", r, j, got, want)
			}
		}
	}
}
