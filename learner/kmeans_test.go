package learner

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestPickSeedFollowsMass draws k-means++ centres from candidates whose
// mass lies in a few rows of different chunks: each must come up in
// proportion to its weighted squared distance, found through the chunks'
// sums, and a row of zero mass never.
func TestPickSeedFollowsMass(t *testing.T) {
	const n = 3*seedChunk + 100
	tests := []struct {
		name string
		w    []float32 // nil: unweighted
	}{
		{"unweighted", nil},
		{"weighted", func() []float32 {
			w := make([]float32, n)
			for i := range w {
				w[i] = 0.5
			}
			w[1500] = 1.5 // mass 3 rather than 1, beside 1600's 1
			return w
		}()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := newAQ(make([]float32, n), n, 1, Config{M: 1, K: 1, Weights: tc.w})
			cand := make([]int, n)
			for i := range cand {
				cand[i] = i
			}
			d2 := make([]float64, n)
			d2[5], d2[1500], d2[1600], d2[n-1] = 2, 2, 2, 4 // chunks 0, 1, 1 and 3
			want := map[int]float64{5: a.weight(5) * 2, 1500: a.weight(1500) * 2, 1600: a.weight(1600) * 2, n - 1: a.weight(n-1) * 4}
			mass := seedMass{chunks: make([]float64, (n+seedChunk-1)/seedChunk)}
			for i, v := range d2 {
				mass.chunks[i/seedChunk] += a.weight(i) * v
			}
			for _, v := range mass.chunks {
				mass.sum += v
			}
			tot := mass.sum
			rng := rand.New(rand.NewPCG(1, 2))
			const draws = 12000
			got := map[int]int{}
			for range draws {
				got[a.pickSeed(cand, d2, mass, rng)]++
			}
			for i, c := range got {
				if _, ok := want[i]; !ok {
					t.Fatalf("drew row %d of no mass %d times", i, c)
				}
			}
			for i, m := range want {
				p := m / tot
				sd := math.Sqrt(draws * p * (1 - p))
				if d := float64(got[i]) - draws*p; math.Abs(d) > 5*sd {
					t.Errorf("row %d drawn %d times, want %.0f ± %.0f", i, got[i], draws*p, 5*sd)
				}
			}
		})
	}
}

// TestPickSeedUniformWithoutMass draws the first centre (no mass yet)
// among every candidate, in proportion to weight.
func TestPickSeedUniformWithoutMass(t *testing.T) {
	const n = 2000
	w := make([]float32, n)
	w[7], w[1999] = 1, 3
	a := newAQ(make([]float32, n), n, 1, Config{M: 1, K: 1, Weights: w})
	cand := make([]int, n)
	for i := range cand {
		cand[i] = i
	}
	rng := rand.New(rand.NewPCG(3, 4))
	got := map[int]int{}
	for range 4000 {
		got[a.pickSeed(cand, make([]float64, n), seedMass{}, rng)]++
	}
	if len(got) != 2 || got[1999] < 2800 || got[1999] > 3200 {
		t.Errorf("draws %v, want rows 7 and 1999 about 1000 and 3000 times", got)
	}
}
