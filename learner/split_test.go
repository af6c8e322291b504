package learner

import (
	"context"
	"math"
	"slices"
	"testing"
)

// splitCase builds a quantiser whose codebook m's codeword k serves
// counts[m][k] rows (weighted by w, when not nil). The codewords lie 10
// apart along (1, 1, 1), but for the thin ones (fewer rows than a
// sixteenth of the mean), which lie 0.1 from their codebook's codeword 0,
// or 1000 away from every other where far says so. A thin codeword's rows
// are its codewords' sum exactly; the others' are off it by (1, -1, 1) or
// its opposite, an error of 3 a row.
func splitCase(counts [][]int, w []float32, far map[int]bool) *aq {
	M, K, D := len(counts), len(counts[0]), 3
	V := 0
	for _, c := range counts[0] {
		V += c
	}
	a := newAQ(make([]float32, V*D), V, D, Config{M: M, K: K, Threads: 2, Seed: 1, Weights: w})
	for m, cm := range counts {
		for k := range cm {
			j, pos := m*K+k, float32(10*(m*K+k))
			if 16*cm[k]*K < V {
				pos = float32(10*m*K) + 0.1
				if far[j] {
					pos = float32(1000 * (j + 1))
				}
			}
			for d := 0; d < D; d++ {
				a.cb[j*D+d] = pos
			}
		}
		i := 0
		for k, n := range cm {
			for ; n > 0; n-- {
				a.codes[i*M+m] = uint16(k)
				i++
			}
		}
	}
	for i := 0; i < V; i++ {
		x := a.x[i*D : (i+1)*D]
		codewordSum(x, a.cb, a.codes[i*M:(i+1)*M], K)
		thin := false
		for m, c := range a.codes[i*M : (i+1)*M] {
			thin = thin || 16*counts[m][c]*K < V
		}
		if !thin {
			s := float32(1 - 2*(i%2))
			x[0], x[1], x[2] = x[0]+s, x[1]-s, x[2]+s
		}
	}
	return a
}

func TestSplitThin(t *testing.T) {
	cases := []struct {
		name   string
		counts [][]int
		w      []float32
		far    map[int]bool
		// next[j] is the codeword that codeword j is moved next to; -1
		// where it stays.
		next []int
	}{
		// Mean 80, thin below 5: codeword 3 goes next to codeword 0.
		{"one thin", [][]int{{200, 100, 17, 3}, {80, 80, 80, 80}}, nil, nil, []int{-1, -1, -1, 0, -1, -1, -1, -1}},
		// Two thin ones take the two most used, in their order.
		{"two thin", [][]int{{66, 250, 2, 2}}, nil, nil, []int{-1, -1, 1, 0}},
		// An unused codeword is thin; ties between sources go by index.
		{"unused", [][]int{{100, 100, 100, 0}}, nil, nil, []int{-1, -1, -1, 0}},
		// More thin codewords than sources: only as many move.
		{"few sources", [][]int{{317, 1, 1, 1}}, nil, nil, []int{-1, 0, -1, -1}},
		// None thin, none moved.
		{"balanced", [][]int{{5, 5, 5, 5}}, nil, nil, []int{-1, -1, -1, -1}},
		// A thin codeword far from the others costs its rows more than
		// a split gains: it stays, and the next thin one takes the source.
		{"costly", [][]int{{250, 66, 2, 2}}, nil, map[int]bool{2: true}, []int{-1, -1, -1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := splitCase(tc.counts, tc.w, tc.far)
			before := slices.Clone(a.cb)
			// a.sqErr is 0: the copies are exact.
			moved, err := a.splitThin(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			want := 0
			for j, src := range tc.next {
				for d := 0; d < a.D; d++ {
					exp := before[j*a.D+d]
					if src >= 0 {
						exp = before[src*a.D+d]
					}
					if a.cb[j*a.D+d] != exp {
						t.Fatalf("codeword %d = %v, want %v", j, a.cb[j*a.D:(j+1)*a.D], exp)
					}
				}
				if src >= 0 {
					want++
				}
			}
			if moved != want {
				t.Errorf("splitThin moved %d codewords, want %d", moved, want)
			}
		})
	}
}

// TestSplitThinWeighted: the rows' weights, not their number, make a
// codeword thin, and the noise of a split is splitNoise times the error
// per coordinate, the same for the same round.
func TestSplitThinWeighted(t *testing.T) {
	// Codeword 1 serves 40 rows of weight 0.001 (0.04 of a mean of
	// 20.02): moving it costs them 0.04 * 303, less than codeword 0's
	// 40 * 3.
	w := make([]float32, 80)
	for i := range w {
		w[i] = 1
		if i >= 40 {
			w[i] = 0.001
		}
	}
	run := func() ([]float32, int) {
		a := splitCase([][]int{{40, 40}}, w, nil)
		a.sqErr = 4 * 40.04 * float64(a.D) // error per coordinate 2
		n, err := a.splitThin(context.Background(), 3)
		if err != nil {
			t.Fatal(err)
		}
		return a.cb, n
	}
	cb, n := run()
	if n != 1 {
		t.Fatalf("moved %d codewords, want 1", n)
	}
	var ss float64
	for d := 0; d < 3; d++ {
		diff := float64(cb[3+d] - cb[d])
		ss += diff * diff
	}
	// sd = 0.5 * 2 = 1 a coordinate: 3 coordinates fall well within 6.
	if ss == 0 || math.Sqrt(ss) > 6 {
		t.Errorf("the split codeword is %v from its source, want noise of sd 1", math.Sqrt(ss))
	}
	if again, _ := run(); !slices.Equal(again, cb) {
		t.Errorf("a second run gave %v, want %v", again, cb)
	}
}
