package learner

import (
	"context"
	"slices"
	"testing"
)

// TestGenericKernelsSameCodes learns the same table with the AVX2 kernels
// (AVX-512 on where the CPU has it, then off) and with the plain Go loops
// and wants the same codes and codebook, bit for bit: a machine without
// AVX2, or without AVX-512, gives the bytes this one does.
func TestGenericKernelsSameCodes(t *testing.T) {
	if !useAVX2 {
		t.Skip("this CPU has no AVX2: only the generic kernels run here")
	}
	const V, D = 700, 36 // D not a multiple of 8: the tails run too
	data := gaussian(V, D, 5)
	has512 := useAVX512
	defer func() { useAVX2, useAVX512 = true, has512 }()
	// 8x256 runs the AVX-512 tiles (where the CPU has them) and the ICM's
	// steps of 32 codes; 12x256 the int8 cross terms (q8MinMK).
	for _, cfg := range []Config{{M: 6, K: 16, Seed: 3, Iterations: 4}, {M: 8, K: 256, Seed: 3, Iterations: 2, KMeansIters: 2},
		{M: 12, K: 256, Seed: 3, Iterations: 2, KMeansIters: 2}} {
		learn := func(avx, wide bool) *Result {
			t.Helper()
			useAVX2, useAVX512 = avx, wide
			res, err := Learn(context.Background(), data, V, D, cfg)
			if err != nil {
				t.Fatal(err)
			}
			return res
		}
		plain := learn(false, false)
		for _, wide := range []bool{has512, false} {
			fast := learn(true, wide)
			if !slices.Equal(fast.Codes, plain.Codes) || !slices.Equal(fast.Codebook, plain.Codebook) {
				t.Fatalf("%dx%d AVX-512 %v: AVX2 and generic kernels learned different results (errors %g and %g)", cfg.M, cfg.K, wide, fast.Metrics.RelSqErr, plain.Metrics.RelSqErr)
			}
		}
	}
}
