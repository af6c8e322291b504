package learner

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSeedProjection: rows wider than seedDims are seeded from their
// projections, which keep squared distances to within their
// Johnson-Lindenstrauss spread, the centres drawn are rows of the table,
// and the bytes learned do not depend on the thread count.
func TestSeedProjection(t *testing.T) {
	const V, D, K = 600, 3 * seedDims, 128
	x := gaussian(V, D, 23)
	a := newAQ(x, V, D, Config{M: 1, K: K, Threads: 2, Seed: 1})
	l := newLloyd(a, x)
	l.setNorms()
	cand := make([]int, V)
	for i := range cand {
		cand[i] = i
	}
	sp, err := l.seedSpace(context.Background(), cand, rand.New(rand.NewPCG(1, 2)))
	if err != nil {
		t.Fatal(err)
	}
	if sp.D != seedDims || len(sp.y) != V*seedDims {
		t.Fatalf("space of %d columns, %d values; want %d columns of %d rows", sp.D, len(sp.y), seedDims, V)
	}
	var sum float64
	const pairs = 200
	for p := 0; p < pairs; p++ {
		i, j := p, V-1-p
		var want, got float64
		for d := 0; d < D; d++ {
			r := float64(x[i*D+d] - x[j*D+d])
			want += r * r
		}
		for d, v := range sp.row(i) {
			r := float64(v - sp.row(j)[d])
			got += r * r
		}
		ratio := got / want
		if ratio < 0.4 || ratio > 1.8 {
			t.Fatalf("rows %d and %d: projected squared distance %.3g of %.3g", i, j, got, want)
		}
		sum += ratio
	}
	if mean := sum / pairs; math.Abs(mean-1) > 0.05 {
		t.Errorf("projected squared distances are %.3f of the rows' on average, want 1", mean)
	}
	cent, err := l.seedPlusPlus(context.Background(), rand.New(rand.NewPCG(3, 4)))
	if err != nil {
		t.Fatal(err)
	}
	for k := 0; k < K; k++ {
		c := cent[k*D : (k+1)*D]
		found := false
		for i := 0; i < V && !found; i++ {
			found = slices.Equal(c, x[i*D:(i+1)*D])
		}
		if !found {
			t.Fatalf("centre %d is no row of the table", k)
		}
	}
	cfg := Config{M: 2, K: K, Seed: 5, Iterations: 1, KMeansIters: 2}
	one, three := cfg, cfg
	one.Threads, three.Threads = 1, 3
	r1, r3 := mustLearn(t, x, V, D, one), mustLearn(t, x, V, D, three)
	if !slices.Equal(r1.Codes, r3.Codes) || !slices.Equal(r1.Codebook, r3.Codebook) {
		t.Error("1 and 3 threads learned other bytes from wide rows")
	}
}

// TestSeedFromMean: wide rows are drawn as centres by their distance from
// the rows' mean as well as from the centres drawn, so that a row at the
// mean, which in many dimensions is nearest to most rows, is never drawn.
func TestSeedFromMean(t *testing.T) {
	const half, D, K = 200, 2 * seedDims, 64
	g := gaussian(half, D, 29)
	x := make([]float32, 0, (2*half+1)*D)
	x = append(x, make([]float32, D)...) // row 0, at the mean
	for i := 0; i < half; i++ {
		r := g[i*D : (i+1)*D]
		x = append(x, r...)
		for _, v := range r {
			x = append(x, -v)
		}
	}
	V := len(x) / D
	a := newAQ(x, V, D, Config{M: 1, K: K, Threads: 2, Seed: 1})
	l := newLloyd(a, x)
	l.setNorms()
	for s := uint64(0); s < 20; s++ {
		cent, err := l.seedPlusPlus(context.Background(), rand.New(rand.NewPCG(s, 9)))
		if err != nil {
			t.Fatal(err)
		}
		for k := 0; k < K; k++ {
			if sqNorm(cent[k*D:(k+1)*D]) == 0 {
				t.Fatalf("seed %d: centre %d is the row at the mean", s, k)
			}
		}
	}
}
