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

// refitSampleMin is the least average number of rows a codeword of a
// codebook that a sampled refit keeps (see refitSample).
const refitSampleMin = 64

// refitSample returns how many of the first of iters rounds refit the
// codebook to a random half of the rows of non-zero weight, a new half each
// round, and that half's size. The noise of a refit to half the rows helps
// the encoding leave poor optima, as the annealing noise does, and halves
// the refit's passes (GloVe 50k, seed 1, embshrink-learner-12 against 11:
// 8x256 0.2282 against 0.2299, seeds 2 and 3 0.2280 and 0.2282 against
// 0.2297 and 0.2305; 32x16 0.1446 against 0.1448; 16x16 0.3157 against
// 0.3159). Where the half keeps fewer than refitSampleMin rows a codeword,
// it is not done: an exact refit (M*K <= maxCholeskyMK) to a half of few
// rows fits its noise (GloVe's first 1,024 rows at 16x16: 0.1242 against
// 0.0988; 512 rows 0.1930 against 0.0510), where 2,048 rows, the least
// that samples, gave 0.1309 against 0.1398 (and at 8x256 32,768 rows
// 0.1986 against 0.2109). The last quarter of the rounds, and at least the
// last 8, refit to every row, so that the codebook settles to them all.
func (a *aq) refitSample(iters int) (rounds, n int) {
	for i := 0; i < a.V; i++ {
		if a.weight(i) != 0 {
			n++
		}
	}
	if n/2 < refitSampleMin*a.K {
		return 0, 0
	}
	return max(0, iters-max(iters/4, 8)), n / 2
}

// sampleWeights returns the weights of round it's sampled refit: a's on n
// rows of non-zero weight drawn from a stream of the seed and the round, 0
// on the others.
func (a *aq) sampleWeights(n, it int) []float64 {
	w := make([]float64, a.V)
	for _, i := range a.sampleRows(n, uint64(it)+sampleStream) {
		w[i] = a.weight(i)
	}
	return w
}

// sampleStream numbers the sampled refits' random streams apart from the
// other streams of the seed.
const sampleStream = 0x5a3b1e
