package learner

import (
	"cmp"
	"context"
	"math"
	"math/rand/v2"
	"slices"
)

// Codewords that serve almost no row waste their codebook's entries, and
// the rounds do not move them: each round's encoding keeps a row's codes
// unless its error falls, so a codeword far from every row stays unused.
// The residual k-means of the initialisation leaves many such codewords at
// K = 256, most in its last stages, where the residuals are like noise and
// a k-means++ seed drawn at an outlying row keeps only that row (GloVe 50k
// at 8x256, seed 1: 223 of the 2,048 codewords served fewer than 10 rows,
// 36 to 60 of each last three codebooks' 256; with the products of Lloyd's
// assignment in 12-bit integers and three greedy k-means++ draws, 507, 213
// of the last codebook's). How many there are decides much of the error
// the rounds end at: after 48 rounds, 0.2408 from 223 such codewords,
// 0.2441 from 399 (30 Lloyd iterations a stage) and 0.2501 from 507, one
// run each.
//
// So in the first half of the rounds (until one finds none to move),
// splitThin moves each thin codeword next to the most used codeword of its
// codebook (LBG's splitting): a copy plus Gaussian noise of splitNoise
// times the encoding's error per coordinate, so that the next encoding
// shares that codeword's rows between the two. After 48 rounds the three
// runs above end at 0.2378, 0.2378 and 0.2380, none with a thin codeword
// left (the first had none after its first round). Half the noise, or
// twice it, gave the same 0.2378; moving a thin codeword onto the residual
// of the row served worst instead (as k-means repairs an empty cluster)
// gave 0.2400, since that codeword again serves that row alone, and onto a
// row drawn by its error 0.2422. Over the default 128 rounds
// (embshrink-learner-18 against 17, seed 1): GloVe 50k 8x256 0.2271
// against 0.2299, 16x256 0.1015 against 0.1110, 16x16 0.3155 against
// 0.3159, 32x16 0.1447 against 0.1449; its first 64 columns at 8x256
// 0.1678 against 0.1683, its first 16 0.0081 against 0.0082 (4x256 0.0730
// either way); vibe's [15000, 64] at 8x256 0.1977 against 0.2534 (16x16
// 0.2775 either way); stories260K's [512, 64] at 8x16 0.0619 against
// 0.0779, 16x16 0.0041 either way.
//
// A split must cost less than it can gain (splitCosts): on stories260K at
// 16x16, where 170 of the 256 codewords serve one row or none, moving all
// of those took the error to 0.0078 (8x16: 0.0665); there they are worth
// their rows (moving them would cost at least 20 a codeword, where a
// codeword's rows carry an error of 0.2), and on GloVe they are not (36
// against 187).
//
// With the splits, one k-means++ draw a centre ends lower than the three
// greedy ones before (see seedTries). A cheaper initialisation still (one
// draw, 4 Lloyd iterations and the assignment's products in 12-bit
// integers together: 2.0 s instead of 4.0 at 8x256) ended 128 rounds at
// 0.2267 against 0.2272 (three draws, 8 iterations) on GloVe 50k but lost
// elsewhere (16x256 0.1040 against 0.1016, its first 16 columns 0.0084
// against 0.0081, vibe 0.1981 against 0.1977); the integer products alone
// saved 0.6 s and gave 0.0082 and 0.1677 on the first 16 and 64 columns.
// Nor did noise for each codeword in proportion to (mean rows / its
// rows)^p, as noise added to the rows would give (48 rounds at 8x256,
// 0.2380 with the same noise for all): p = 0.5 0.2414, 0.25 0.2378, -0.25
// 0.2382, -0.5 0.2379.
const (
	// thinShare: a codeword is thin when the weight of its rows is below
	// 1/thinShare of its codebook's mean (GloVe 50k at 8x256: 12 rows of
	// the mean 195; 10, 20, 40 and 80 rows gave 0.2378, 0.2381, 0.2382
	// and 0.2384 after 48 rounds).
	thinShare = 16
	// splitNoise scales the noise of a split (see perturbCodebook).
	splitNoise = 0.5
)

// splitThin moves thin codewords next to their codebook's most used
// codewords, each of those taken once, in order of their use, where the
// move costs less than the split could gain (splitCosts); it returns how
// many it moved. The rows' codes are left as they are: the next encoding
// moves them.
func (a *aq) splitThin(ctx context.Context, round int) (int, error) {
	M, K, D := a.M, a.K, a.D
	cnt := a.codeCounts()
	var total float64
	for _, c := range cnt[:K] {
		total += c
	}
	thin := total / float64(K) / thinShare
	if !(thin > 0) || !slices.ContainsFunc(cnt, func(c float64) bool { return c < thin }) {
		return 0, nil
	}
	loss, share, err := a.splitCosts(ctx, thin, cnt)
	if err != nil {
		return 0, err
	}
	sd := splitNoise * a.errorScale()
	rng := rand.New(rand.NewPCG(uint64(a.seed), uint64(round)+0x5b117))
	order := make([]int, K)
	moved := 0
	for m := 0; m < M; m++ {
		c := cnt[m*K : (m+1)*K]
		for k := range order {
			order[k] = k
		}
		// Most used first; equal counts by index, so the order is the
		// same on every machine.
		slices.SortFunc(order, func(p, q int) int {
			return cmp.Or(cmp.Compare(c[q], c[p]), cmp.Compare(p, q))
		})
		src := 0
		for k := 0; k < K && src < K && c[order[src]] >= thin; k++ {
			to, from := m*K+k, m*K+order[src]
			if c[k] >= thin || !(loss[to] < share[from]) {
				continue
			}
			cw := a.cb[to*D : (to+1)*D]
			for d, v := range a.cb[from*D : (from+1)*D] {
				cw[d] = v + float32(rng.NormFloat64()*sd)
			}
			src++
			moved++
		}
	}
	return moved, nil
}

// splitCosts returns, for each thin codeword (rows of less weight than
// thin), what its rows' weighted error would grow by if it merged into the
// nearest other codeword of its codebook, the rows' other codes kept: an
// upper bound of what moving it costs before the next encoding; and for
// every codeword one codebook's share of its rows' weighted error, what
// splitting it could gain. (Each row's best other code instead of the
// nearest codeword's took 0.27 s a round on vibe's calibrated table at
// 8x256, where 1,200 codewords light by weight serve 70,000 codes.) The
// rows' errors are taken on every thread, the sums in row order.
func (a *aq) splitCosts(ctx context.Context, thin float64, cnt []float64) (loss, share []float64, err error) {
	M, K, D := a.M, a.K, a.D
	rowErr := make([]float64, a.V)
	err = forChunks(ctx, a.V, chunkRows, a.threads, func(_, lo, hi int) {
		y := make([]float32, D)
		for i := lo; i < hi; i++ {
			codewordSum(y, a.cb, a.codes[i*M:(i+1)*M], K)
			rowErr[i] = sqDiff(a.x[i*D:(i+1)*D], y)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	near := a.nearestOthers(cnt, thin)
	loss, share = make([]float64, a.MK), make([]float64, a.MK)
	y, r := make([]float32, D), make([]float32, D)
	for i, e := range rowErr {
		w := a.weight(i)
		if w == 0 {
			continue
		}
		codes := a.codes[i*M : (i+1)*M]
		summed := false
		for m, c := range codes {
			j := m*K + int(c)
			share[j] += w * e / float64(M)
			if cnt[j] >= thin {
				continue
			}
			if !summed {
				codewordSum(y, a.cb, codes, K)
				summed = true
			}
			x, n := a.x[i*D:(i+1)*D], near[j]
			for d := range r {
				r[d] = x[d] - (y[d] - a.cb[j*D+d]) - a.cb[n*D+d]
			}
			loss[j] += w * (sqNorm(r) - e)
		}
	}
	return loss, share, nil
}

// nearestOthers returns, for each thin codeword j (of weight below thin),
// the nearest other codeword of its codebook (the first of equals), and j
// for the others.
func (a *aq) nearestOthers(cnt []float64, thin float64) []int {
	K, D := a.K, a.D
	near := make([]int, a.MK)
	for j := range near {
		near[j] = j
		if cnt[j] >= thin {
			continue
		}
		best, cj := math.Inf(1), a.cb[j*D:(j+1)*D]
		for k := j / K * K; k < (j/K+1)*K; k++ {
			if d := sqDiff(cj, a.cb[k*D:(k+1)*D]); k != j && d < best {
				best, near[j] = d, k
			}
		}
	}
	return near
}

// errorScale returns the root mean squared error per coordinate and
// codebook of the last encoding, the unit of the codebook's noise.
func (a *aq) errorScale() float64 {
	return math.Sqrt(a.sqErr / (a.sumRows(func(int) float64 { return 1 }) * float64(a.D)) / float64(a.M))
}
