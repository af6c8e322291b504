package learner_test

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/embshrink/embshrink/learner"
)

func ExampleLearn() {
	// A small table whose rows are sums of 2 codewords from codebooks of 4
	// (the second codebook at half the scale of the first).
	const V, D, M, K = 200, 8, 2, 4
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]float32, M*K*D)
	for i := range words {
		words[i] = float32(r.NormFloat64())
		if i >= K*D {
			words[i] /= 2
		}
	}
	table := make([]float32, V*D)
	for i := 0; i < V; i++ {
		for m := 0; m < M; m++ {
			k := r.IntN(K)
			for j := 0; j < D; j++ {
				table[i*D+j] += words[(m*K+k)*D+j]
			}
		}
	}
	res, err := learner.Learn(context.Background(), table, V, D, learner.Config{M: M, K: K, Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("codes: %d x %d, codebook: %d x %d\n", res.V, res.M, res.M*res.K, res.D)
	fmt.Printf("bits per row: %d\n", res.Metrics.BitsPerRow)
	fmt.Printf("relative squared error below 1e-6: %v\n", res.Metrics.RelSqErr < 1e-6)
	// Output:
	// codes: 200 x 2, codebook: 8 x 8
	// bits per row: 4
	// relative squared error below 1e-6: true
}
