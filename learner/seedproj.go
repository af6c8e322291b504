package learner

import (
	"context"
	"math"
	"math/rand/v2"
)

// seedDims is the most columns in which the seeding measures its
// distances: wider candidate rows are projected to seedDims columns by a
// random Gaussian map first (Johnson-Lindenstrauss), which keeps squared
// distances to within about sqrt(2/seedDims), 13%, so the draws keep
// their odds roughly; the centres drawn are the rows themselves. The
// seeding reads every candidate once a centre: on a [250000, 768] table
// (embshrink-bench wide-npy) at 8x256, 65,536 candidates, its passes over
// their 201 MB took 30 s of CPU of the initialisation's 76, and projected
// the initialisation took 36.5 s instead of 48.1 (initial error 0.5363
// against 0.5386, after 28 rounds 0.4451 against 0.4449); with the
// integer products of lloydint.go too, 26.3 to 27.7 s instead of 41.2 to
// 48.1. Tables of at most seedDims columns are seeded as before.
const seedDims = 128

// seedSpace is where the seeding measures distances: the candidates' rows,
// or their projections, of D values, by place in the candidates.
type seedSpace struct {
	D    int
	y    []float32 // the projected rows, [candidates, D]; nil: l's points
	pts  []float32 // l's points, when y is nil
	cand []int     // the candidates' rows in l's points
	cols []float32 // the rows as seedColumns lays them out
	pn   []float64 // their squared norms
}

// row returns candidate c's row in the space.
func (sp *seedSpace) row(c int) []float32 {
	if sp.y != nil {
		return sp.y[c*sp.D : (c+1)*sp.D]
	}
	i := sp.cand[c]
	return sp.pts[i*sp.D : (i+1)*sp.D]
}

// seedSpace returns the space of l's candidate rows cand: the rows
// themselves up to seedDims columns, else their projections by a map
// drawn from rng.
func (l *lloyd) seedSpace(ctx context.Context, cand []int, rng *rand.Rand) (*seedSpace, error) {
	a := l.a
	sp := &seedSpace{D: a.D, pts: l.pts, cand: cand, pn: make([]float64, len(cand))}
	if a.D <= seedDims {
		for c, i := range cand {
			sp.pn[c] = l.pnorm[i]
		}
	} else {
		var err error
		if sp.y, err = l.project(ctx, cand, rng); err != nil {
			return nil, err
		}
		sp.D = seedDims
		for c := range cand {
			sp.pn[c] = sqNorm(sp.row(c))
		}
	}
	var err error
	sp.cols, err = l.seedColumns(ctx, len(cand), sp.D, sp.row)
	return sp, err
}

// project returns the rows cand of l's points times a [D, seedDims]
// matrix of Gaussian values of variance 1/seedDims drawn from rng, which
// keeps squared norms on average.
func (l *lloyd) project(ctx context.Context, cand []int, rng *rand.Rand) ([]float32, error) {
	a := l.a
	D, P := a.D, seedDims
	// The map's columns as rows of D, for products.
	m := make([]float32, P*D)
	sd := 1 / math.Sqrt(float64(P))
	for j := range m {
		m[j] = float32(rng.NormFloat64() * sd)
	}
	mt := packPanels(m, P, D)
	// Kept for the next stage's seeding, as seedRows is.
	if len(l.seedY) != len(cand)*P {
		l.seedY = make([]float32, len(cand)*P)
	}
	y := l.seedY
	const block = 64 // rows gathered a product
	bufs := make([][]float32, a.threads)
	err := forChunks(ctx, len(cand), block, a.threads, func(t, lo, hi int) {
		if bufs[t] == nil {
			bufs[t] = make([]float32, block*D)
		}
		x := bufs[t][:(hi-lo)*D]
		for c, i := range cand[lo:hi] {
			copy(x[c*D:(c+1)*D], l.pts[i*D:(i+1)*D])
		}
		products(y[lo*P:hi*P], x, D, m, mt, P)
	})
	return y, err
}

// fromMean sets d2 to the candidates' squared distances in sp from their
// weighted mean and returns their weighted sums, as if the mean were a
// centre already drawn (it is not one of the K): then a row near the mean
// is seldom drawn. In many dimensions such a row, drawn as a centre, is
// nearest to almost every row, as distances between rows concentrate:
// on the [250000, 768] table at 8x256, seeds 1 and 3 drew one in some
// stage (a row of residual 6.9 against a mean squared norm of 125, nearest
// to 99.6% of the rows, which Lloyd's 8 iterations did not undo), for an
// initial error of 0.6061 and 0.5883 and 0.5739 and 0.5618 after a round;
// drawn from the mean, 0.5173 and 0.5155, 0.4900 and 0.4883 after a
// round (seed 2, which drew none: 0.5145 against 0.5162). With a 60 s
// limit 8x256 ended at 0.4607 instead of 0.4875, and its 28 rounds at
// 0.4458 in 159.9 s; 16x16 0.4895 in 57.3 s (0.4901 before). Tables of
// at most seedDims columns are seeded as before: on GloVe 50k (D = 100)
// at 8x256 drawing from the mean too gave an initial 0.2917 against
// 0.2898, and the same 0.2265 after 128 rounds.
func (a *aq) fromMean(sp *seedSpace, d2 []float64) seedMass {
	D, cand := sp.D, sp.cand
	mean := make([]float64, D)
	var wt float64
	for c, i := range cand {
		w := a.weight(i)
		wt += w
		for d, v := range sp.row(c) {
			mean[d] += w * float64(v)
		}
	}
	if wt > 0 {
		for d := range mean {
			mean[d] /= wt
		}
	}
	m := seedMass{chunks: make([]float64, (len(cand)+seedChunk-1)/seedChunk)}
	for c, i := range cand {
		var s float64
		for d, v := range sp.row(c) {
			r := float64(v) - mean[d]
			s += r * r
		}
		d2[c] = s
		m.chunks[c/seedChunk] += a.weight(i) * s
	}
	for _, v := range m.chunks {
		m.sum += v
	}
	return m
}
