package learner

import (
	"context"
	"slices"
	"testing"
)

// TestEncodeRes checks that the residual encoder, from the same codes and
// codebook, lowers the error as far as the field encoder does (the same
// search, its sums rounded differently).
func TestEncodeRes(t *testing.T) {
	const V, D = 2000, 16
	data := gaussian(V, D, 8)
	for _, tc := range []struct{ M, K int }{{4, 16}, {3, 64}} {
		cfg := Config{M: tc.M, K: tc.K, Seed: 4, Threads: 2}
		a := newAQ(data, V, D, cfg)
		if _, err := a.initResidual(context.Background(), 2); err != nil {
			t.Fatal(err)
		}
		a.perturbCodebook(0.5, 0) // so that the codes have room to improve
		start := Measure(data, V, D, Encoded{M: tc.M, K: tc.K, Codes: a.codes, Codebook: a.cb}, nil).RelSqErr
		field, res := *a, *a
		field.codes, res.codes = slices.Clone(a.codes), slices.Clone(a.codes)
		o := cfg.encodeOpts(2)
		ef, err := field.encode(context.Background(), 1, o)
		if err != nil {
			t.Fatal(err)
		}
		er, err := res.encodeRes(context.Background(), 1, o)
		if err != nil {
			t.Fatal(err)
		}
		got := Measure(data, V, D, Encoded{M: tc.M, K: tc.K, Codes: res.codes, Codebook: a.cb}, nil).RelSqErr
		if !(er < 0.98*start) || er > ef*1.02 || got > er*1.0001 || got < er*0.9999 {
			t.Errorf("%dx%d: residual encoder's error %.5f (measured %.5f), want below the start's %.5f and within 2%% of the field encoder's %.5f",
				tc.M, tc.K, er, got, start, ef)
		}
	}
}
