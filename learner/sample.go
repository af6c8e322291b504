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

// residualRows returns a copy of the table for the residuals, its rows in
// the order: train (increasing), then the others (increasing), and pos,
// each row's place in it (nil when train is nil: all rows in order). So
// k-means trains on a prefix of the residuals instead of a copy of the
// sampled rows (half of a [128256, 2048] table: 0.5 GiB).
func (a *aq) residualRows(train []int) (res []float32, pos []int) {
	D := a.D
	res = make([]float32, len(a.x))
	if train == nil {
		copy(res, a.x)
		return res, nil
	}
	pos = make([]int, a.V)
	for i := range pos {
		pos[i] = -1
	}
	for p, i := range train {
		pos[i] = p
	}
	p := len(train)
	for i := range pos {
		if pos[i] < 0 {
			pos[i] = p
			p++
		}
		copy(res[pos[i]*D:(pos[i]+1)*D], a.x[i*D:(i+1)*D])
	}
	return res, pos
}

// prefix returns a quantiser over the first len(train) rows of res (laid
// out by residualRows) for k-means to train on: the training rows' data
// and weights, and a's settings; it has no codes or codebook.
func (a *aq) prefix(res []float32, train []int) *aq {
	s := *a
	s.V = len(train)
	s.x = res[:len(train)*a.D]
	s.codes, s.cb = nil, nil
	if a.w != nil {
		s.w = make([]float64, len(train))
		for r, i := range train {
			s.w[r] = a.w[i]
		}
	}
	return &s
}
