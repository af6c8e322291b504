package learner

import (
	"math/rand/v2"
	"slices"
)

// initSampleRows is the number of rows each residual k-means stage of a
// larger table is trained on (then every row is assigned to its nearest
// centroid): 256 per centroid, as faiss trains k-means, but at least 65,536,
// since the start decides the end (GloVe 50k 32x16: training on 16,384 of
// the rows, 0.1602 after 18 rounds instead of 0.1547).
func initSampleRows(K int) int { return max(256*K, 65536) }

// sampleRows returns n row indices in increasing order drawn uniformly,
// without replacement, among the rows of non-zero weight, from a stream of
// the seed; nil when there are no more than n such rows (use them all).
func (a *aq) sampleRows(n int, stream uint64) []int {
	rows := make([]int, 0, a.V)
	for i := 0; i < a.V; i++ {
		if a.weight(i) != 0 {
			rows = append(rows, i)
		}
	}
	if len(rows) <= n {
		return nil
	}
	rng := rand.New(rand.NewPCG(uint64(a.seed), stream))
	// A partial Fisher-Yates shuffle: the first n are a uniform sample.
	for i := 0; i < n; i++ {
		j := i + rng.IntN(len(rows)-i)
		rows[i], rows[j] = rows[j], rows[i]
	}
	rows = rows[:n]
	slices.Sort(rows)
	return rows
}

// subset returns a quantiser over the rows idx of x (a [V, D] table laid
// out like a.x) for k-means to train on: their data and weights, and a's
// settings; it has no codes or codebook. It refills prev, a subset of the
// same rows, when given.
func (a *aq) subset(idx []int, x []float32, prev *aq) *aq {
	D := a.D
	s := prev
	if s == nil {
		c := *a
		s = &c
		s.V = len(idx)
		s.x = make([]float32, len(idx)*D)
		s.codes, s.cb = nil, nil
		if a.w != nil {
			s.w = make([]float64, len(idx))
		}
	}
	for r, i := range idx {
		copy(s.x[r*D:(r+1)*D], x[i*D:(i+1)*D])
		if a.w != nil {
			s.w[r] = a.w[i]
		}
	}
	return s
}
