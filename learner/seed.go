package learner

// The seeding of the initialisation's k-means: greedy k-means++ over
// candidate rows laid out as columns, each draw found by its chunk's mass.

import (
	"context"
	"math"
	"math/rand/v2"
)

// seedPlusPlus draws K initial centroids by weighted k-means++ seeding on a
// deterministic candidate subset of l's points.
func (l *lloyd) seedPlusPlus(ctx context.Context, rng *rand.Rand) ([]float32, error) {
	a, pts := l.a, l.pts
	V, D, K := a.V, a.D, a.K
	cent := make([]float32, K*D)
	// Seeding from 1024 candidates a centroid loses nothing measurable
	// (GloVe 50k, 32x16) and took 17% of initialisation from every row.
	// Fewer cost the end result at K = 256 (GloVe 50k, 8x256, 128 rounds,
	// against 0.2298 from every row: 128 a centroid 0.2314, 64 0.2479, its
	// initialisation 2.4 s instead of 3.8).
	maxCand := max(1024*K, 16384)
	cand := make([]int, 0, min(V, maxCand))
	if V <= maxCand {
		for i := 0; i < V; i++ {
			cand = append(cand, i)
		}
	} else {
		cand = rng.Perm(V)[:maxCand]
	}
	d2 := make([]float64, len(cand))
	for i := range d2 {
		d2[i] = math.Inf(1)
	}
	sp, err := l.seedSpace(ctx, cand, rng)
	if err != nil {
		return nil, err
	}
	var mass seedMass // d2's weighted sums; none before the first centre
	if sp.y != nil {
		mass = a.fromMean(sp, d2)
	}
	tries := seedTries(K)
	picked := make([]int, tries)
	dot := make([]float32, tries*len(cand)) // pick t's products at t*len(cand)
	nd := make([][]float64, tries)
	for t := range nd {
		nd[t] = make([]float64, len(cand))
	}
	for k := 0; k < K; k++ {
		tries := 1
		if k > 0 && l.greedy {
			tries = len(picked)
		}
		// The draws depend on d2 alone, so all are drawn first and their
		// distances computed in one pass over the candidates' rows (GloVe
		// 50k at 8x256: the seeding took 6.1 s of CPU in three passes, 4.2
		// to 4.7 s in one).
		picks := picked[:tries]
		for t := range picks {
			picks[t] = a.pickSeed(cand, d2, mass, rng)
		}
		pots, err := l.seedDists(ctx, sp, picks, d2, nd[:tries], dot)
		if err != nil {
			return nil, err
		}
		t := 0
		for u := range pots {
			if pots[u].sum < pots[t].sum {
				t = u
			}
		}
		i := cand[picks[t]]
		copy(cent[k*D:(k+1)*D], pts[i*D:(i+1)*D])
		d2, nd[t] = nd[t], d2
		mass = pots[t]
	}
	return cent, nil
}

// seedColumns returns n rows of D values, row(c) for c in [0, n), by
// seedChunk rows, each chunk's as the columns of a [D, its rows] matrix,
// so that seedDots takes their products with three new centres at once in
// the lanes of registers, with no sums across lanes. They are kept for the
// next seeding (33.5 MB at K = 256: 65,536 rows of seedDims).
func (l *lloyd) seedColumns(ctx context.Context, n, D int, row func(c int) []float32) ([]float32, error) {
	if len(l.seedRows) != n*D {
		l.seedRows = make([]float32, n*D)
	}
	rows := l.seedRows
	err := forChunks(ctx, n, seedChunk, l.a.threads, func(_, lo, hi int) {
		w := hi - lo
		blk := rows[lo*D : hi*D]
		for c := lo; c < hi; c++ {
			for d, v := range row(c) {
				blk[d*w+c-lo] = v
			}
		}
	})
	return rows, err
}

// seedTries is the number of k-means++ draws of which the seeding keeps
// the one that leaves the least weighted squared distance (greedy
// k-means++, 2 + ln K draws as in Arthur and Vassilvitskii's analysis), but
// one above K = 64 (plain k-means++). There the draws cost more than they
// give: the least distance favours outlying rows, whose clusters keep only
// them, and since the rounds split such thin codewords (see splitThin) one
// draw ends lower (embshrink-learner-18, 128 rounds, seed 1, one draw
// against three): GloVe 50k 8x256 0.2265 against 0.2271, 16x256 0.1018
// against 0.1015; its first 64 columns at 8x256 0.1673 against 0.1678,
// its first 16 0.0080 against 0.0081, 4x256 0.0728 against 0.0730; vibe's
// [15000, 64] 8x256 0.1937 against 0.1977, 16x256 0.0433 against 0.0488,
// 4x256 0.4298 against 0.4300; and the initialisation of 8x256 takes
// 0.6 s less. The whole GloVe table (341,479 rows, 16x256) alone lost a
// little: 0.1518 against 0.1512 after its 28 rounds, 0.1692 against
// 0.1661 after 3. (Before the splits, GloVe 50k at 8x256, initial error: 7
// draws 0.2886 in about 25 s of CPU; 3 0.2822 in 17 s; 2 0.2900; 1 0.2907
// in 11 s; after 24 rounds, 1 draw 0.2544 where 7 gave 0.2535, and after
// 128 rounds 0.2353 where 7 gave 0.2340. 7 draws from 16,384 candidate
// rows instead of every row, 0.3032; training on 16,384 rows, 0.3844; 4
// Lloyd iterations instead of 8, 0.3085.) The draws' products as one tile
// over the candidate rows packed as panels (dotsT) did not pay either: 4
// draws so, 3.8 s of wall time for the initialisation, as 3 draws one by
// one, and an initial error of 0.2999 (5 draws 0.2814, 8 0.2860: the
// draws vary more than their number tells).
func seedTries(K int) int {
	if K > 64 {
		return 1
	}
	return 2 + int(math.Log(float64(K)))
}

// maxSeedTries is seedTries' most, at K = 64.
const maxSeedTries = 6

// seedDists sets out[t] to the candidates' squared distances in sp to
// their nearest centre once candidate picks[t] is added (d2 holds them
// without it; dot is scratch) and returns their weighted sums, by
// seedChunk candidates and in all (the chunks' added in order). Two ways
// of reading fewer bytes did not pay (GloVe 50k at 8x256,
// embshrink-learner-11, initialisation 3.8 to 5.1 s): the candidates'
// rows as int16 for the integer products of the encoder (4.1 to 4.4 s,
// and an initial error of 0.2836, not 0.2822); and the triangle
// inequality, a candidate's row skipped when its nearest centre is at
// least twice as far from the draw as from it (5.3 and 5.4 s).
func (l *lloyd) seedDists(ctx context.Context, sp *seedSpace, picks []int, d2 []float64, out [][]float64, dot []float32) ([]seedMass, error) {
	a, D, cand := l.a, sp.D, sp.cand
	pots := make([]seedMass, len(picks))
	for t := range pots {
		pots[t].chunks = make([]float64, (len(cand)+seedChunk-1)/seedChunk)
	}
	xs := make([]float32, len(picks)*D)
	cn := make([]float64, len(picks))
	for t, c := range picks {
		copy(xs[t*D:(t+1)*D], sp.row(c))
		cn[t] = sp.pn[c]
	}
	rows, pn := sp.cols, sp.pn
	nc := len(cand)
	// Each candidate's distance is its own: the chunks change nothing but
	// the time.
	err := forChunks(ctx, len(cand), seedChunk, a.threads, func(_, lo, hi int) {
		seedDots(dot[lo:], nc, xs, D, rows[lo*D:hi*D], hi-lo)
		// The picks' sums side by side: each one's additions wait on
		// the last, the others' do not (0.6 s of CPU instead of 1.0).
		var s [maxSeedTries]float64
		for ci := lo; ci < hi; ci++ {
			w, p, q := a.weight(cand[ci]), pn[ci], d2[ci]
			for t := range picks {
				o := min(q, max(p+cn[t]-2*float64(dot[t*nc+ci]), 0))
				out[t][ci] = o
				s[t] += w * o
			}
		}
		for t := range picks {
			pots[t].chunks[lo/seedChunk] = s[t]
		}
	})
	for t := range pots {
		for _, v := range pots[t].chunks {
			pots[t].sum += v
		}
	}
	return pots, err
}

// seedDots sets out[t*stride+j] to the product of the t-th of the vectors
// of D values in xs with column j of cols, a [D, n] matrix, three vectors
// at a time where it can, each column read once for the three. (GloVe 50k
// at 8x256: 1.75 s of CPU where one by one took 2.0 s, and dots over rows
// 2.5 s; a pass is bound by reading the 20 MB of candidates, which
// three at a time do in a third of the passes. With the chunks' sums of
// pickSeed and the picks' distances summed side by side in seedDists, the
// initialisation took 2.6 s instead of 2.9.)
func seedDots(out []float32, stride int, xs []float32, D int, cols []float32, n int) {
	t := 0
	if useAVX2 && useAVX512 {
		for ; t+3 <= len(xs)/D; t += 3 {
			cnt := n &^ 15
			dotsCols3x512(out[t*stride:], stride, xs[t*D:(t+3)*D], D, cols, n, cnt)
			for u := t; u < t+3; u++ {
				dotsColsGeneric(out[u*stride+cnt:u*stride+n], xs[u*D:(u+1)*D], cols[cnt:], n)
			}
		}
	}
	for ; t < len(xs)/D; t++ {
		dotsCols(out[t*stride:t*stride+n], xs[t*D:(t+1)*D], cols, n)
	}
}

// seedChunk is the number of candidates whose weighted squared distances
// the seeding sums apart.
const seedChunk = 1024

// seedMass is a seeding's weighted squared distances: their sum, and
// their sums by seedChunk candidates, by which the next draw finds its
// chunk before it walks the candidates (drawing from every candidate's
// running sum took 0.5 s of one core, one ninth of the initialisation of
// GloVe 50k at 8x256).
type seedMass struct {
	sum    float64
	chunks []float64
}

// pickSeed draws the next k-means++ centre among cand with probability
// proportional to weight times squared distance d2, whose weighted sums
// are mass (weighted uniform for the first centre, when mass is the zero
// value, or when no mass is left), and returns its place in cand.
func (a *aq) pickSeed(cand []int, d2 []float64, mass seedMass, rng *rand.Rand) int {
	if !(mass.sum > 0) {
		return a.pickUniform(cand, rng)
	}
	r := rng.Float64() * mass.sum
	last := len(mass.chunks) - 1
	for c, v := range mass.chunks {
		if r >= v && c < last {
			r -= v
			continue
		}
		lo, hi := c*seedChunk, min((c+1)*seedChunk, len(cand))
		pick := -1
		for ci := lo; ci < hi; ci++ {
			if p := a.weight(cand[ci]) * d2[ci]; p > 0 {
				pick = ci
				if r -= p; r < 0 {
					break
				}
			}
		}
		if pick >= 0 {
			return pick // the last with mass when rounding left r >= 0
		}
	}
	return len(cand) - 1
}

// pickUniform draws among cand with probability proportional to weight
// and returns the place in cand drawn.
func (a *aq) pickUniform(cand []int, rng *rand.Rand) int {
	var wt float64
	for _, i := range cand {
		wt += a.weight(i)
	}
	if wt > 0 {
		r := rng.Float64() * wt
		for c, i := range cand {
			r -= a.weight(i)
			if r < 0 {
				return c
			}
		}
	}
	return rng.IntN(len(cand))
}
