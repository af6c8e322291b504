package learner

import (
	"context"
	"math"
	"slices"
	"testing"
)

func TestRefitSample(t *testing.T) {
	for _, tc := range []struct {
		name       string
		V, K, zero int // zero: rows of weight 0
		iters      int
		rounds, n  int
	}{
		{"half of every row", 2048, 16, 0, 128, 96, 1024},
		{"at the least", 2048, 16, 0, 20, 12, 1024},
		{"too few rounds", 2048, 16, 0, 8, 0, 1024},
		{"too few rows a codeword", 2046, 16, 0, 128, 0, 0},
		{"zero weights do not count", 2048, 16, 1, 128, 0, 0},
		{"wider codebooks want more rows", 32768, 256, 0, 128, 96, 16384},
		{"below them", 32767, 256, 0, 128, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := Config{M: 2, K: tc.K}
			if tc.zero > 0 {
				cfg.Weights = make([]float32, tc.V)
				for i := range cfg.Weights {
					cfg.Weights[i] = 1
				}
				cfg.Weights[3] = 0
			}
			a := newAQ(nil, tc.V, 1, cfg)
			rounds, n := a.refitSample(tc.iters)
			if rounds != tc.rounds || rounds > 0 && n != tc.n {
				t.Errorf("refitSample(%d) = %d rounds of %d rows, want %d of %d", tc.iters, rounds, n, tc.rounds, tc.n)
			}
		})
	}
}

// A sampled refit's weights are the table's own on n rows of non-zero
// weight, others 0, a new draw each round and the same draw for the same
// seed and round.
func TestSampleWeights(t *testing.T) {
	const V, n = 1000, 300
	w := make([]float32, V)
	for i := range w {
		w[i] = float32(i%4) * 0.5 // a quarter of weight 0
	}
	a := newAQ(nil, V, 1, Config{M: 1, K: 2, Seed: 5, Weights: w})
	s0, s1 := a.sampleWeights(n, 0), a.sampleWeights(n, 1)
	kept := 0
	for i, v := range s0 {
		if v != 0 {
			kept++
			if v != a.weight(i) {
				t.Fatalf("row %d: sampled weight %g, the table's %g", i, v, a.weight(i))
			}
		}
	}
	if kept != n {
		t.Errorf("%d rows sampled, want %d", kept, n)
	}
	if slices.Equal(s0, s1) {
		t.Errorf("rounds 0 and 1 sampled the same rows")
	}
	if !slices.Equal(s0, a.sampleWeights(n, 0)) {
		t.Errorf("round 0 sampled other rows the second time")
	}
}

// A run stopped in a round whose refit was to a sample (here by its target
// error, without annealing) ends with a refit to every row, as the rounds'
// last refit does: the codebook is the exact refit of the codes.
func TestSampledRefitFinish(t *testing.T) {
	const V, D = 2048, 8
	data := gaussian(V, D, 3)
	cfg := Config{M: 2, K: 8, Seed: 2, Iterations: 20, Anneal: -1, Threads: 2}
	var losses []float64
	cfg.Progress = func(p Progress) {
		if p.Phase == "refine" {
			losses = append(losses, p.Loss)
		}
	}
	mustLearn(t, data, V, D, cfg)
	if len(losses) < 4 {
		t.Fatalf("%d rounds, want 20", len(losses))
	}
	cfg.Progress, cfg.TargetError = nil, losses[2]*(1+1e-9)
	res := mustLearn(t, data, V, D, cfg)
	sc := newScaling(data, false)
	a := newAQ(sc.x, V, D, cfg)
	if rounds, _ := a.refitSample(cfg.Iterations); rounds < 3 {
		t.Fatalf("%d sampled rounds: the test wants its third round sampled", rounds)
	}
	copy(a.codes, res.Codes)
	if err := a.refit(context.Background()); err != nil {
		t.Fatal(err)
	}
	for j, v := range a.cb {
		if got := math.Ldexp(float64(v), sc.exp); float32(got) != res.Codebook[j] {
			t.Fatalf("codebook value %d is %g, the exact refit of the codes %g (stopped: %s)", j, res.Codebook[j], got, res.Stopped)
		}
	}
}
