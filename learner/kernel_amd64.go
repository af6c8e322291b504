package learner

import "golang.org/x/sys/cpu"

// useAVX2, useAVX512, hasF16C and hasVNNI are fixed at start-up: the CPU does not
// change. (x/sys/cpu reports AVX-512 only where the OS saves its registers;
// F16C, bit 29 of CPUID 1's ECX, needs the AVX state that AVX2 implies.)
var (
	useAVX2   = cpu.X86.HasAVX2
	useAVX512 = cpu.X86.HasAVX2 && cpu.X86.HasAVX512F
	hasF16C   = cpu.X86.HasAVX2 && cpuidECX(1)&(1<<29) != 0
	hasVNNI   = cpu.X86.HasAVX512VNNI
)

// cpuidECX returns ECX of CPUID leaf leaf (sub-leaf 0).
func cpuidECX(leaf uint32) uint32

// addDiffF16C is addDiff for len(f) a multiple of 8; a and b are at least
// as long as f.
//
//go:noescape
func addDiffF16C(f []float32, a, b []uint16)

// minIndexAVX2 is minIndex for len(v) a positive multiple of 8; it returns 0
// when v holds no minimum it can find (NaN).
//
//go:noescape
func minIndexAVX2(v []float32) int

// dotsAVX2 is dots for len(x) >= 8.
//
//go:noescape
func dotsAVX2(out, x, c []float32)

// axpyAVX2 is axpy for len(f) a multiple of 8.
//
//go:noescape
func axpyAVX2(f, a []float32, w float32)

// icmRunF16C is icmRun for K a positive multiple of 8.
//
//go:noescape
func icmRunF16C(f []float32, P, b []uint16, K, visits int)

// accum64AVX2 is accum64 for len(b) a multiple of 4.
//
//go:noescape
func accum64AVX2(b []float64, x []float32, w float64)

// addDiff512 is addDiff for len(f) a multiple of 16, by AVX-512.
//
//go:noescape
func addDiff512(f []float32, a, b []uint16)

// icmRun512 is icmRun for K a positive multiple of 16, by AVX-512.
//
//go:noescape
func icmRun512(f []float32, P, b []uint16, K, visits int)

// icmRunMins512 is icmRun512 keeping each codebook's least field in mins
// (len(b) values).
//
//go:noescape
func icmRunMins512(f []float32, P, b []uint16, mins []float32, K, visits int)

// codewordSumAVX2 is codewordSum for the first len(s) values, a multiple
// of 8, of rows of D.
//
//go:noescape
func codewordSumAVX2(s, cb []float32, code []uint16, K, D int)

// field512 is fieldSums for len(f) a multiple of 16, by AVX-512.
//
//go:noescape
func field512(f, u []float32, P []uint16, off []int)

// fieldF16C is fieldSums for len(f) a multiple of 8.
//
//go:noescape
func fieldF16C(f, u []float32, P []uint16, off []int)

// toHalvesF16C is toHalves for len(dst) a multiple of 8.
//
//go:noescape
func toHalvesF16C(dst []uint16, src []float32)

// dotsPanelAVX2 is the part of dotsT for four rows and one panel of w
// columns, 16 or 8.
//
//go:noescape
func dotsPanelAVX2(out []float32, n int, x []float32, D int, p []float32, w int)

// dotsPanel512 is the part of dotsT for eight rows and one panel of 16
// columns, by AVX-512.
//
//go:noescape
func dotsPanel512(out []float32, n int, x []float32, D int, p []float32)

// unaryAVX2 is unary for len(u) a multiple of 8.
//
//go:noescape
func unaryAVX2(u, norms []float32)

// unaryI16VNNI is unaryI16's panel of 16 codewords for its 8 rows, by
// AVX-512 VNNI.
//
//go:noescape
func unaryI16VNNI(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32)

// unaryI16AVX2 is unaryI16's panel of 16 codewords for 4 rows, by AVX2.
//
//go:noescape
func unaryI16AVX2(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32)

// restart512 is restartField for len(f) a multiple of 16, by AVX-512.
//
//go:noescape
func restart512(f, base []float32, P []uint16, rows []int)

// restartF16C is restartField for len(f) a multiple of 8.
//
//go:noescape
func restartF16C(f, base []float32, P []uint16, rows []int)

// codewordSum512 is codewordSum for all of s by AVX-512, the last
// len(s)%16 values under the mask tail (their bits set).
//
//go:noescape
func codewordSum512(s, cb []float32, code []uint16, K, D int, tail uint16)

// prefetchCodewords asks the CPU to bring into cache the codewords code
// selects, rows of D values of cb, which must hold them.
//
//go:noescape
func prefetchCodewords(cb []float32, code []uint16, K, D int)

// dotsCols512 is dotsCols for the first len(out) columns, a multiple of
// 16, by AVX-512.
//
//go:noescape
func dotsCols512(out []float32, x []float32, cols []float32, n int)

// dotsCols3x512 is dotsCols for the three vectors of D values in x, into
// out's rows of ostride, for the first cnt columns, a multiple of 16, by
// AVX-512: each column is read once for the three.
//
//go:noescape
func dotsCols3x512(out []float32, ostride int, x []float32, D int, cols []float32, n, cnt int)

// prefetchFloats asks the CPU to bring v, not empty, into cache.
//
//go:noescape
func prefetchFloats(v []float32)

// scatterAdd512 is scatterAdd by AVX-512, the last len(v)%16 values under
// the mask tail (their bits set).
//
//go:noescape
func scatterAdd512(b, v []float32, code []uint16, K int, tail uint16)

// sqDiff512 is sqDiff for len(x) > 0 by AVX-512, the last len(x)%8 values
// under the mask tail (their bits set).
//
//go:noescape
func sqDiff512(x, y []float32, tail uint8) float64

// unaryI8VNNI is unaryI16VNNI's panels of 16 codewords for values of at
// most 7 bits, packed as bytes (see i16Book.p8 and byteRows), panels of
// them in one call.
//
//go:noescape
func unaryI8VNNI(out []float32, stride int, x8 []int8, Dq int, p8 []uint8, nm, mul, mr []float32, corr []int32, panels int)

// fieldQ8512 is fieldQ8 by AVX-512.
//
//go:noescape
func fieldQ8512(f, u []float32, q []int8, s []float32, off, soff []int, K int)

// restartQ8512 is restartQ8 by AVX-512.
//
//go:noescape
func restartQ8512(f, base []float32, q []int8, s []float32, rows, srows []int, K int)

// icmRunMinsQ8512 is icmRunMins512 for int8 cross terms q with scales s
// (see crossTab).
//
//go:noescape
func icmRunMinsQ8512(f []float32, q []int8, s []float32, b []uint16, mins []float32, K, visits int)

// absMax512 returns the largest magnitude in v (len(v) a positive multiple
// of 16, no NaN), by AVX-512.
//
//go:noescape
func absMax512(v []float32) float32

// quantQ8512 sets q[j] to v[j]*inv rounded to the nearest integer, ties to
// even (the CPU's rounding, which Go keeps), for len(v) a multiple of 16
// and every product within int8, by AVX-512.
//
//go:noescape
func quantQ8512(q []int8, v []float32, inv float32)

// fieldQ8AVX2 is fieldQ8 by AVX2, for blocks of K a multiple of 8.
//
//go:noescape
func fieldQ8AVX2(f, u []float32, q []int8, s []float32, off, soff []int, K int)

// restartQ8AVX2 is restartQ8 by AVX2, for blocks of K a multiple of 8.
//
//go:noescape
func restartQ8AVX2(f, base []float32, q []int8, s []float32, rows, srows []int, K int)

// icmRunQ8AVX2 is icmRunF16C for int8 cross terms q with scales s (see
// crossTab).
//
//go:noescape
func icmRunQ8AVX2(f []float32, q []int8, s []float32, b []uint16, K, visits int)

// dotsColsAVX2 is dotsCols for the first len(out) columns, a multiple of 8,
// by AVX2.
//
//go:noescape
func dotsColsAVX2(out []float32, x []float32, cols []float32, n int)

// absMaxAVX2 is absMax512 for len(v) a positive multiple of 8, by AVX2.
//
//go:noescape
func absMaxAVX2(v []float32) float32

// quantQ8AVX2 is quantQ8512 for len(v) a multiple of 8, by AVX2.
//
//go:noescape
func quantQ8AVX2(q []int8, v []float32, inv float32)
