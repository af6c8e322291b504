package learner

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/internal/half"
)

// TestKernelsMatchGeneric checks the AVX2, F16C and AVX-512 kernels against plain loops, bit
// for bit, on lengths around their block sizes, with ties and signed zeros.
func TestKernelsMatchGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	has512 := useAVX512
	defer func() { useAVX512 = has512 }()
	for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 256, 496, 512, 1000} {
		for trial := 0; trial < 50; trial++ {
			f, a, b := make([]float32, n), make([]float32, n), make([]float32, n)
			for j := range f {
				f[j], a[j], b[j] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*1e3), float32(rng.NormFloat64())
			}
			want := make([]float32, n)
			g := append([]float32(nil), f...)
			axpy(g, a, 0.37)
			for j := range g {
				if w := f[j] + float32(0.37*a[j]); math.Float32bits(g[j]) != math.Float32bits(w) {
					t.Fatalf("axpy n=%d [%d]: %g, want %g", n, j, g[j], w)
				}
			}
			acc := make([]float64, n)
			for j := range acc {
				acc[j] = rng.NormFloat64()
			}
			acc2 := slices.Clone(acc)
			accum64(acc, a, 0.37)
			for j := range acc {
				if w := acc2[j] + float64(0.37*float64(a[j])); math.Float64bits(acc[j]) != math.Float64bits(w) {
					t.Fatalf("accum64 n=%d [%d]: %g, want %g", n, j, acc[j], w)
				}
			}
			un := slices.Clone(a)
			unary(un, b)
			for j := range un {
				if w := b[j] - 2*a[j]; math.Float32bits(un[j]) != math.Float32bits(w) {
					t.Fatalf("unary n=%d [%d]: %g, want %g", n, j, un[j], w)
				}
			}
			ha, hb := make([]uint16, n), make([]uint16, n)
			for j := range ha {
				ha[j], hb[j] = half.FromFloat32(a[j]), half.FromFloat32(b[j])
				want[j] = f[j] + (half.ToFloat32(ha[j]) - half.ToFloat32(hb[j]))
			}
			for _, wide := range []bool{has512, false} {
				useAVX512 = wide
				g := slices.Clone(f)
				addDiff(g, ha, hb)
				for j := range g {
					if math.Float32bits(g[j]) != math.Float32bits(want[j]) {
						t.Fatalf("addDiff n=%d wide=%v [%d]: %g, want %g", n, wide, j, g[j], want[j])
					}
				}
			}
			useAVX512 = has512
			copy(f, want)
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

// TestCodewordSumMatchesGeneric wants the AVX2 codeword sums equal, bit for
// bit, to the codewords added in order to zeros, for widths around the
// kernel's groups of 64 and 8, with negative zeros (0 + -0 is +0).
func TestCodewordSumMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	for _, D := range []int{1, 7, 8, 9, 16, 63, 64, 65, 100, 112, 113, 128, 136, 255, 300} {
		const M, K = 5, 12
		cb := make([]float32, M*K*D)
		for j := range cb {
			cb[j] = float32(rng.NormFloat64())
			if rng.IntN(9) == 0 {
				cb[j] = float32(math.Copysign(0, -1))
			}
		}
		code := make([]uint16, M)
		for m := range code {
			code[m] = uint16(rng.IntN(K))
		}
		for _, m := range []struct{ avx2, wide bool }{{false, false}, {hasAVX2, false}, {hasAVX2, has512}} {
			useAVX2, useAVX512 = m.avx2, m.wide
			got := make([]float32, D+17) // past D: a sentinel nothing may write
			for j := range got {
				got[j] = 42
			}
			codewordSum(got[:D], cb, code, K)
			for j := range got {
				want := float32(42)
				if j < D {
					want = 0
					for m, c := range code {
						want += cb[(m*K+int(c))*D+j]
					}
				}
				if math.Float32bits(got[j]) != math.Float32bits(want) {
					t.Fatalf("D=%d %+v [%d]: %g, want %g", D, m, j, got[j], want)
				}
			}
		}
	}
}

// TestToHalvesMatchesGeneric checks the F16C rounding to float16 against
// internal/half's, bit for bit: ties (both ways), values that overflow to
// infinity, subnormal halves and values that round to zero, and signed
// zeros.
func TestToHalvesMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	var src []float32
	for _, v := range []float32{0, float32(math.Copysign(0, -1)), 65504, 65519, 65520, -65520, 1e9, 6e-5, 6e-8, 3e-8, 2.9802322e-08, 1e-30, 1e-40} {
		src = append(src, v, -v)
	}
	for len(src) < 4000 {
		// Random exponents over the whole float16 range and past it, and
		// mantissas whose last 13 bits are a tie half the time.
		bits := rng.Uint32()&0x807fffff | uint32(100+rng.IntN(50))<<23
		if rng.IntN(2) == 0 {
			bits = bits&^0x1fff | 0x1000
		}
		src = append(src, math.Float32frombits(bits))
	}
	got := make([]uint16, len(src))
	toHalves(got, src)
	for j, v := range src {
		if want := half.FromFloat32(v); got[j] != want {
			t.Fatalf("toHalves(%g) = %#04x, want %#04x", v, got[j], want)
		}
	}
}

// TestICMSweepMatchesGeneric runs ICM by the AVX-512 and F16C kernels and
// the Go loop from the same state, and by plain sweeps until one changes
// nothing (at most 1, 2 or 4), and wants the same codes and field bits,
// for several codebook sizes (below, at and past the kernel's steps of 32
// codes), with ties in the field, signed zeros among them.
func TestICMSweepMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	for _, tc := range []struct{ M, K int }{{1, 8}, {2, 8}, {5, 16}, {32, 16}, {3, 24}, {4, 64}, {3, 5}, {7, 12}, {2, 256}, {3, 80}, {3, 40}, {2, 72}} {
		MK := tc.M * tc.K
		for trial := 0; trial < 20; trial++ {
			P := make([]uint16, MK*MK)
			for j := range P {
				if r, c := j/MK, j%MK; r/tc.K != c/tc.K { // diagonal blocks zero
					P[j] = half.FromFloat32(float32(rng.IntN(7)-3) / 4) // small integers: ties
				}
			}
			f := tiedField(rng, MK) // -0 ties 0
			b := make([]uint16, tc.M)
			for m := range b {
				b[m] = uint16(rng.IntN(tc.K))
			}
			off := make([]int, tc.M)
			for m, c := range b {
				off[m] = (m*tc.K + int(c)) * MK
			}
			u := slices.Clone(f)
			useAVX2 = false
			want := make([]float32, MK)
			fieldSums(want, u, P, off)
			useAVX2 = hasAVX2
			for _, wide := range []bool{false, has512} {
				useAVX512 = wide
				fieldSums(f, u, P, off)
				for j := range f {
					if math.Float32bits(f[j]) != math.Float32bits(want[j]) {
						t.Fatalf("M=%d K=%d wide=%v: fieldSums[%d] %g, want %g", tc.M, tc.K, wide, j, f[j], want[j])
					}
				}
			}
			useAVX512 = has512
			// The AVX-512 kernel where K allows, then the F16C one, then
			// the Go loop, each against sweeps of the reference.
			for _, m := range []struct{ avx2, wide bool }{{hasAVX2, has512}, {hasAVX2, false}, {false, false}} {
				useAVX2, useAVX512 = m.avx2, m.wide
				for _, sweeps := range []int{1, 2, 4} {
					f, b := slices.Clone(f), slices.Clone(b)
					f2, b2 := slices.Clone(f), slices.Clone(b)
					icmRun(f, P, b, tc.K, sweeps*tc.M)
					for s := 0; s < sweeps && icmSweepRef(f2, P, b2, tc.K) > 0; s++ {
					}
					if !slices.Equal(b, b2) {
						t.Fatalf("M=%d K=%d %+v, %d sweeps: codes %v, want %v", tc.M, tc.K, m, sweeps, b, b2)
					}
					for j := range f {
						if math.Float32bits(f[j]) != math.Float32bits(f2[j]) {
							t.Fatalf("M=%d K=%d %+v, %d sweeps: field[%d] %g, want %g", tc.M, tc.K, m, sweeps, j, f[j], f2[j])
						}
					}
				}
			}
			useAVX2, useAVX512 = hasAVX2, has512
		}
	}
}

// icmSweepRef is one plain ICM sweep (see icmRun) over every codebook in
// turn; it returns how many codes changed.
func icmSweepRef(f []float32, P, b []uint16, K int) int {
	MK := len(f)
	changes := 0
	for m, c := range b {
		lo := m * K
		fm := f[lo : lo+K]
		k := minIndexGeneric(fm)
		if k == int(c) || !(fm[k] < fm[c]) {
			continue
		}
		for j := range f {
			f[j] += half.ToFloat32(P[(lo+k)*MK+j]) - half.ToFloat32(P[(lo+int(c))*MK+j])
		}
		b[m] = uint16(k)
		changes++
	}
	return changes
}

// BenchmarkDots compares the products of GloVe-sized rows with 512
// codewords, one row at a time (dots) and four at a time from the
// codebook packed in panels (dotsT); both report the time for two rows:
//
//	go test ./learner -run '^$' -bench Dots -count 5
func BenchmarkDots(b *testing.B) {
	const D, n = 100, 512
	rng := rand.New(rand.NewPCG(5, 6))
	c, x := make([]float32, n*D), make([]float32, 2*D)
	for j := range c {
		c[j] = float32(rng.NormFloat64())
	}
	for j := range x {
		x[j] = float32(rng.NormFloat64())
	}
	out0, out1 := make([]float32, n), make([]float32, n)
	b.Run("two-dots", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			dots(out0, x[:D], c)
			dots(out1, x[D:], c)
		}
	})
	ct := packPanels(c, n, D)
	const R = uRows
	xs, out := make([]float32, R*D), make([]float32, R*n)
	for j := range xs {
		xs[j] = float32(rng.NormFloat64())
	}
	b.Run("dotsT-per-2-rows", func(b *testing.B) {
		for i := 0; i < b.N; i += R / 2 {
			dotsT(out, xs, D, ct, n)
		}
	})
}

// TestDotsTMatchesGeneric wants the tiled products (AVX-512 and AVX2) and the plain loops
// both equal, bit for bit, to products of the unpacked codewords added in
// the order of d, on row and column counts around the tile sizes.
func TestDotsTMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	for _, tc := range []struct{ R, D, n int }{{17, 100, 48}, {16, 3, 32}, {4, 8, 16}, {5, 3, 17}, {8, 100, 512}, {7, 36, 40}, {1, 9, 15}, {12, 1, 48}, {4, 100, 8}, {9, 5, 24}, {4, 7, 63}} {
		x, c := make([]float32, tc.R*tc.D), make([]float32, tc.n*tc.D)
		for j := range x {
			x[j] = float32(rng.NormFloat64())
		}
		for j := range c {
			c[j] = float32(rng.NormFloat64())
		}
		want := make([]float32, tc.R*tc.n)
		for r := 0; r < tc.R; r++ {
			for k := 0; k < tc.n; k++ {
				var s float32
				for d := 0; d < tc.D; d++ {
					s += float32(x[r*tc.D+d] * c[k*tc.D+d])
				}
				want[r*tc.n+k] = s
			}
		}
		ct := packPanels(c, tc.n, tc.D)
		for _, m := range []struct{ avx2, avx512 bool }{{hasAVX2, has512}, {hasAVX2, false}, {false, false}} {
			useAVX2, useAVX512 = m.avx2, m.avx512
			got := make([]float32, tc.R*tc.n)
			dotsT(got, x, tc.D, ct, tc.n)
			for j := range got {
				if math.Float32bits(got[j]) != math.Float32bits(want[j]) {
					t.Fatalf("R=%d D=%d n=%d AVX2 %v AVX-512 %v: [%d] %g, want %g", tc.R, tc.D, tc.n, m.avx2, m.avx512, j, got[j], want[j])
				}
			}
		}
	}
}

// TestHalfScale wants the cross terms' bound, twice the largest squared
// norm of a codeword, scaled into [2^14, 2^15) by a power of two, for
// codebooks from tiny to large, and 1 for an all-zero codebook.
func TestHalfScale(t *testing.T) {
	for _, tc := range []struct {
		v    float32 // every value of the codebook
		D, n int
	}{{1, 100, 4}, {1e-6, 3, 2}, {3e4, 8, 5}, {0.7, 1, 1}, {2, 2048, 3}} {
		cb := make([]float32, tc.n*tc.D)
		for j := range cb {
			cb[j] = tc.v
		}
		cb[len(cb)-1] = -tc.v
		inv := halfScale(cb, tc.D)
		bound := 2 * sqNorm(cb[:tc.D]) * float64(inv)
		if frac, _ := math.Frexp(float64(inv)); frac != 0.5 || bound < 1<<14 || bound >= 1<<15 {
			t.Errorf("values %g, D=%d: scale %g takes the bound to %g, want a power of two into [2^14, 2^15)", tc.v, tc.D, inv, bound)
		}
	}
	if inv := halfScale(make([]float32, 12), 4); inv != 1 {
		t.Errorf("zero codebook: scale %g, want 1", inv)
	}
}

// TestRestartFieldMatchesGeneric wants the AVX-512, F16C and Go restart
// fields equal, bit for bit, to a copy of the base followed by one addDiff
// a pair of rows, over lengths around the kernels' steps.
func TestRestartFieldMatchesGeneric(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	for _, n := range []int{1, 7, 8, 16, 40, 64, 100, 2048} {
		P := make([]uint16, 8*n)
		for j := range P {
			P[j] = half.FromFloat32(float32(rng.NormFloat64()))
		}
		base := make([]float32, n)
		for j := range base {
			base[j] = float32(rng.NormFloat64())
		}
		for pairs := 0; pairs <= 3; pairs++ {
			rows := make([]int, 2*pairs)
			for i := range rows {
				rows[i] = rng.IntN(8) * n
			}
			useAVX2, useAVX512 = false, false
			want := slices.Clone(base)
			for i := 0; i < len(rows); i += 2 {
				addDiff(want, P[rows[i]:rows[i]+n], P[rows[i+1]:rows[i+1]+n])
			}
			for _, m := range []struct{ avx2, wide bool }{{false, false}, {hasAVX2, false}, {hasAVX2, has512}} {
				useAVX2, useAVX512 = m.avx2, m.wide
				f := make([]float32, n)
				restartField(f, base, P, rows)
				for j := range f {
					if math.Float32bits(f[j]) != math.Float32bits(want[j]) {
						t.Fatalf("n=%d pairs=%d %+v: f[%d] %g, want %g", n, pairs, m, j, f[j], want[j])
					}
				}
			}
		}
	}
}

// TestSeedDotsMatchGeneric wants the seeding's products with columns, by
// AVX-512 one vector or three at a time and by AVX2, equal bit for bit to
// the generic loop, for column counts around the kernels' blocks of 128,
// 64, 16 and 8 and every count of vectors up to maxSeedTries+1.
func TestSeedDotsMatchGeneric(t *testing.T) {
	has512 := useAVX512
	defer func() { useAVX512 = has512 }()
	for _, wide := range []bool{has512, false} {
		useAVX512 = wide
		checkSeedDots(t)
	}
	if seedTries(64) != maxSeedTries || seedTries(65536) > maxSeedTries {
		t.Errorf("seedTries(64) = %d, seedTries(65536) = %d; maxSeedTries %d", seedTries(64), seedTries(65536), maxSeedTries)
	}
}

func checkSeedDots(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	for _, D := range []int{1, 7, 100} {
		for _, n := range []int{1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 100, 129, 200} {
			cols := make([]float32, D*n)
			for j := range cols {
				cols[j] = float32(rng.NormFloat64())
			}
			for tries := 1; tries <= maxSeedTries+1; tries++ {
				xs := make([]float32, tries*D)
				for j := range xs {
					xs[j] = float32(rng.NormFloat64())
				}
				stride := n + 3
				got := make([]float32, tries*stride)
				seedDots(got, stride, xs, D, cols, n)
				for u := 0; u < tries; u++ {
					want := make([]float32, n)
					dotsColsGeneric(want, xs[u*D:(u+1)*D], cols, n)
					for j, w := range want {
						if g := got[u*stride+j]; math.Float32bits(g) != math.Float32bits(w) {
							t.Fatalf("AVX-512 %v D=%d n=%d tries=%d vector %d column %d: %g, want %g", useAVX512, D, n, tries, u, j, g, w)
						}
					}
				}
			}
		}
	}
}

// TestScatterAddMatchesAxpy wants a row's share of the refit's sums, by
// AVX-512 with its masked tail, by AVX2 and by Go, equal bit for bit to
// adding it codeword by codeword, and no other value touched, for widths
// around the groups of 16 and 8.
func TestScatterAddMatchesAxpy(t *testing.T) {
	hasAVX2, has512 := useAVX2, useAVX512
	defer func() { useAVX2, useAVX512 = hasAVX2, has512 }()
	for _, m := range []struct{ avx2, wide bool }{{hasAVX2, has512}, {hasAVX2, false}, {false, false}} {
		useAVX2, useAVX512 = m.avx2, m.wide
		checkScatterAdd(t)
	}
}

func checkScatterAdd(t *testing.T) {
	t.Helper()
	rng := rand.New(rand.NewPCG(13, 14))
	const M, K = 3, 5
	for _, D := range []int{1, 7, 8, 9, 15, 16, 17, 31, 100} {
		b := make([]float32, M*K*D)
		for j := range b {
			b[j] = float32(rng.NormFloat64())
		}
		v := make([]float32, D)
		for j := range v {
			v[j] = float32(rng.NormFloat64())
		}
		code := []uint16{4, 0, 2}
		want := slices.Clone(b)
		for m, c := range code {
			r := (m*K + int(c)) * D
			for j, x := range v {
				want[r+j] += x
			}
		}
		scatterAdd(b, v, code, K)
		for j := range b {
			if math.Float32bits(b[j]) != math.Float32bits(want[j]) {
				t.Fatalf("AVX2 %v AVX-512 %v D=%d [%d]: %g, want %g", useAVX2, useAVX512, D, j, b[j], want[j])
			}
		}
	}
}

// BenchmarkFieldUpdate times a field update of the ICM (the difference of
// two random rows of float16 cross terms of 2048 values added into the
// float32 field) from cross terms of 1, 8 (8x256's) and 32 MB (16x256's),
// the updates of one field in a chain or of two fields taken in turn, as
// two rows' ICMs interleaved would take them. It reports ns/update. Here
// (AVX-512, three runs): 90 to 92 ns from 1 MB, 137 to 141 from 8 MB, 379
// to 423 from 32 MB, and two fields in turn no faster (93 to 95, 133 to
// 144, 395 to 504): interleaving rows would not hide the cross terms'
// memory, whose size sets the cost.
func BenchmarkFieldUpdate(b *testing.B) {
	const MK = 2048
	for _, mb := range []int{1, 8, 32} {
		for _, fields := range []int{1, 2} {
			b.Run(fmt.Sprintf("P=%dMB/fields=%d", mb, fields), func(b *testing.B) {
				rows := mb << 20 / (2 * MK)
				P := make([]uint16, rows*MK)
				for i := range P {
					P[i] = uint16(0x3c00 + i%7) // 1 and a little more
				}
				f := make([][]float32, fields)
				for i := range f {
					f[i] = make([]float32, MK)
				}
				rng := rand.New(rand.NewPCG(1, 2))
				off := make([]int, 1<<16)
				for i := range off {
					off[i] = rng.IntN(rows) * MK
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					j := 2 * i % len(off)
					addDiff(f[i%fields], P[off[j]:off[j]+MK], P[off[j+1]:off[j+1]+MK])
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/update")
			})
		}
	}
}
