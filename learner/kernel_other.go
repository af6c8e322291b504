//go:build !amd64

package learner

const (
	useAVX2   = false
	useAVX512 = false
)

func addDiffAVX2(f, a, b []float32) { panic("learner: no AVX2 kernels on this architecture") }

func minIndexAVX2(v []float32) int { panic("learner: no AVX2 kernels on this architecture") }

func dotsAVX2(out, x, c []float32) { panic("learner: no AVX2 kernels on this architecture") }

func axpyAVX2(f, a []float32, w float32) { panic("learner: no AVX2 kernels on this architecture") }

func icmSweepAVX2(f, P []float32, b []uint16, K int) int {
	panic("learner: no AVX2 kernels on this architecture")
}

func accum64AVX2(b []float64, x []float32, w float64) {
	panic("learner: no AVX2 kernels on this architecture")
}

func fieldAVX2(f, u, P []float32, off []int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func dotsPanelAVX2(out []float32, n int, x []float32, D int, p []float32, w int) {
	panic("learner: no AVX2 kernels on this architecture")
}

func dotsPanel512(out []float32, n int, x []float32, D int, p []float32) {
	panic("learner: no AVX-512 kernels on this architecture")
}

func unaryAVX2(u, norms []float32) { panic("learner: no AVX2 kernels on this architecture") }
