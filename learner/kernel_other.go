//go:build !amd64

package learner

// Variables, not constants, so that the tests that switch the kernels off
// build here too.
var (
	useAVX2   = false
	useAVX512 = false
	hasF16C   = false
	hasVNNI   = false
)

func addDiffF16C(f []float32, a, b []uint16) { panic("learner: no F16C kernels on this architecture") }

func minIndexAVX2(v []float32) int { panic("learner: no AVX2 kernels on this architecture") }

func dotsAVX2(out, x, c []float32) { panic("learner: no AVX2 kernels on this architecture") }

func axpyAVX2(f, a []float32, w float32) { panic("learner: no AVX2 kernels on this architecture") }

func icmRunF16C(f []float32, P, b []uint16, K, visits int) {
	panic("learner: no F16C kernels on this architecture")
}

func accum64AVX2(b []float64, x []float32, w float64) {
	panic("learner: no AVX2 kernels on this architecture")
}

func addDiff512(f []float32, a, b []uint16) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func icmRun512(f []float32, P, b []uint16, K, visits int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func icmRunMins512(f []float32, P, b []uint16, mins []float32, K, visits int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func codewordSumAVX2(s, cb []float32, code []uint16, K, D int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func field512(f, u []float32, P []uint16, off []int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func fieldF16C(f, u []float32, P []uint16, off []int) {
	panic("learner: no F16C kernels on this architecture")
}

func toHalvesF16C(dst []uint16, src []float32) {
	panic("learner: no F16C kernels on this architecture")
}

func dotsPanelAVX2(out []float32, n int, x []float32, D int, p []float32, w int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func dotsPanel512(out []float32, n int, x []float32, D int, p []float32) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func unaryAVX2(u, norms []float32) { panic("learner: no AVX2 kernels on this architecture") }

func unaryI16VNNI(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func unaryI16AVX2(out []float32, stride int, xq []int16, Dp int, p []int16, nm, mul, mr []float32) {
	panic("learner: no AVX2 kernels on this architecture")
}

func restart512(f, base []float32, P []uint16, rows []int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func restartF16C(f, base []float32, P []uint16, rows []int) {
	panic("learner: no F16C kernels on this architecture")
}

func codewordSum512(s, cb []float32, code []uint16, K, D int, tail uint16) {
	panic("learner: no AVX-512 kernels on this architecture")
}

// prefetchCodewords does nothing here: it is only a hint.
func prefetchCodewords(cb []float32, code []uint16, K, D int) {}

func dotsCols512(out []float32, x []float32, cols []float32, n int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func dotsCols3x512(out []float32, ostride int, x []float32, D int, cols []float32, n, cnt int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

// prefetchFloats does nothing here: it is only a hint.
func prefetchFloats(v []float32) {}

func scatterAdd512(b, v []float32, code []uint16, K int, tail uint16) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func sqDiff512(x, y []float32, tail uint8) float64 {
	panic("learner: no AVX-512 kernels on this architecture")
}

func unaryI8VNNI(out []float32, stride int, x8 []int8, Dq int, p8 []uint8, nm, mul, mr []float32, corr []int32, panels int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func fieldQ8512(f, u []float32, q []int8, s []float32, off, soff []int, K int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func restartQ8512(f, base []float32, q []int8, s []float32, rows, srows []int, K int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func icmRunMinsQ8512(f []float32, q []int8, s []float32, b []uint16, mins []float32, K, visits int) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func absMax512(v []float32) float32 { panic("learner: no AVX-512 kernels on this architecture") }

func quantQ8512(q []int8, v []float32, inv float32) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func fieldQ8AVX2(f, u []float32, q []int8, s []float32, off, soff []int, K int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func restartQ8AVX2(f, base []float32, q []int8, s []float32, rows, srows []int, K int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func icmRunQ8AVX2(f []float32, q []int8, s []float32, b []uint16, K, visits int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func dotsColsAVX2(out []float32, x []float32, cols []float32, n int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func absMaxAVX2(v []float32) float32 { panic("learner: no AVX2 kernels on this architecture") }

func quantQ8AVX2(q []int8, v []float32, inv float32) {
	panic("learner: no AVX2 kernels on this architecture")
}
