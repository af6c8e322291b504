package learner

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// synthAdditive returns a [V, D] table that is exactly a sum of M codewords
// from a random [M*K, D] codebook whose codebook m has scale decay^m.
func synthAdditive(V, D, M, K int, seed uint64, decay float64) []float32 {
	r := rand.New(rand.NewPCG(seed, 1))
	cb := make([]float32, M*K*D)
	for i := range cb {
		cb[i] = float32(r.NormFloat64() * math.Pow(decay, float64(i/(K*D))))
	}
	x := make([]float32, V*D)
	for i := 0; i < V; i++ {
		for m := 0; m < M; m++ {
			k := r.IntN(K)
			for j := 0; j < D; j++ {
				x[i*D+j] += cb[(m*K+k)*D+j]
			}
		}
	}
	return x
}

// gaussian returns a [V, D] table of correlated Gaussian rows.
func gaussian(V, D int, seed uint64) []float32 {
	r := rand.New(rand.NewPCG(seed, 2))
	mix := make([]float64, D*D)
	for i := range mix {
		mix[i] = r.NormFloat64() / math.Sqrt(float64(D))
	}
	x := make([]float32, V*D)
	z := make([]float64, D)
	for i := 0; i < V; i++ {
		for j := range z {
			z[j] = r.NormFloat64() * (1 + float64(j%4))
		}
		for j := 0; j < D; j++ {
			var s float64
			for t := 0; t < D; t++ {
				s += mix[j*D+t] * z[t]
			}
			x[i*D+j] = float32(s + 0.5)
		}
	}
	return x
}

func mustLearn(t *testing.T, data []float32, V, D int, cfg Config) *Result {
	t.Helper()
	res, err := Learn(context.Background(), data, V, D, cfg)
	if err != nil {
		t.Fatalf("Learn(%+v): %v", cfg, err)
	}
	checkShape(t, res)
	return res
}

func checkShape(t *testing.T, res *Result) {
	t.Helper()
	if len(res.Codes) != res.V*res.M || len(res.Codebook) != res.M*res.K*res.D {
		t.Fatalf("bad result sizes: codes %d codebook %d", len(res.Codes), len(res.Codebook))
	}
	for i, c := range res.Codes {
		if int(c) >= res.K {
			t.Fatalf("code %d = %d out of range K=%d", i, c, res.K)
		}
	}
	for i, v := range res.Codebook {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			t.Fatalf("codebook value %d is %v", i, v)
		}
	}
}

// TestExactReconstruction checks that a table that is exactly a sum of
// codewords is recovered. Codebooks have decreasing scales so that the
// structure is identifiable by the residual initialisation; with equal
// scales alternating minimisation can stop in a local optimum (e.g. 0.055 for
// 400x12, M=2, K=4), as any k-means-like method can.
func TestExactReconstruction(t *testing.T) {
	for _, tc := range []struct{ V, D, M, K int }{
		{300, 8, 1, 8},
		{400, 12, 2, 4},
		{600, 16, 3, 4},
		{2000, 16, 4, 8},
	} {
		data := synthAdditive(tc.V, tc.D, tc.M, tc.K, 7, 0.5)
		res := mustLearn(t, data, tc.V, tc.D, Config{M: tc.M, K: tc.K, Seed: 1})
		if res.Metrics.RelSqErr > 1e-6 {
			t.Errorf("V=%d D=%d M=%d K=%d: RelSqErr = %g, want ~0", tc.V, tc.D, tc.M, tc.K, res.Metrics.RelSqErr)
		}
	}
}

func TestErrorFallsWithM(t *testing.T) {
	const V, D, K = 500, 16, 8
	data := gaussian(V, D, 3)
	prev := math.Inf(1)
	for _, M := range []int{1, 2, 4, 8} {
		res := mustLearn(t, data, V, D, Config{M: M, K: K, Seed: 5})
		t.Logf("M=%d RelSqErr=%.4f", M, res.Metrics.RelSqErr)
		if !(res.Metrics.RelSqErr < prev) {
			t.Errorf("M=%d: RelSqErr %.4f, not below %.4f with fewer codebooks", M, res.Metrics.RelSqErr, prev)
		}
		prev = res.Metrics.RelSqErr
	}
}

// rowErrs returns ||y_i - x_i||^2 for every row.
func rowErrs(data []float32, res *Result) []float64 {
	y := Reconstruct(res.Codes, res.Codebook, res.V, res.D, res.M, res.K)
	out := make([]float64, res.V)
	for i := range out {
		for j := 0; j < res.D; j++ {
			d := float64(y[i*res.D+j] - data[i*res.D+j])
			out[i] += d * d
		}
	}
	return out
}

func TestWeights(t *testing.T) {
	const V, D, M, K, heavy = 400, 16, 2, 8, 20
	data := gaussian(V, D, 11)
	w := make([]float32, V)
	for i := range w {
		w[i] = 1
		if i < heavy {
			w[i] = 200
		}
	}
	for _, method := range []string{"", MethodDCCL} {
		t.Run(methodName(method), func(t *testing.T) {
			cfg := Config{M: M, K: K, Seed: 2, Method: method, Epochs: 150, LR: 1e-2, Batch: 32}
			uni := rowErrs(data, mustLearn(t, data, V, D, cfg))
			cfg.Weights = w
			wres := mustLearn(t, data, V, D, cfg)
			wei := rowErrs(data, wres)
			var eu, ew float64
			for i := 0; i < heavy; i++ {
				eu += uni[i]
				ew += wei[i]
			}
			t.Logf("heavy rows: uniform %.3f weighted %.3f", eu, ew)
			if !(ew < 0.7*eu) {
				t.Errorf("heavily weighted rows: error %.3f with weights, %.3f without; want clearly lower", ew, eu)
			}
			if wres.Metrics.RelSqErr >= wres.Metrics.RelSqErrUnweighted {
				t.Errorf("weighted error %.4f not below unweighted %.4f", wres.Metrics.RelSqErr, wres.Metrics.RelSqErrUnweighted)
			}
		})
	}
}

func TestZeroWeightRowsEncoded(t *testing.T) {
	const V, D, M, K = 300, 12, 3, 8
	data := gaussian(V, D, 13)
	w := make([]float32, V)
	for i := range w {
		if i%3 != 0 {
			w[i] = 1
		}
	}
	res := mustLearn(t, data, V, D, Config{M: M, K: K, Seed: 4, Weights: w})
	errs := rowErrs(data, res)
	// Every zero-weight row must be locally optimal against the final
	// codebook: no single code change lowers its error.
	for i := 0; i < V; i += 3 {
		codes := slices.Clone(res.Codes[i*M : (i+1)*M])
		for m := 0; m < M; m++ {
			orig := codes[m]
			for k := 0; k < K; k++ {
				codes[m] = uint16(k)
				y := Reconstruct(codes, res.Codebook, 1, D, M, K)
				var e float64
				for j := 0; j < D; j++ {
					d := float64(y[j] - data[i*D+j])
					e += d * d
				}
				if e < errs[i]*(1-1e-4)-1e-6 {
					t.Fatalf("zero-weight row %d: code %d=%d gives %.5f < %.5f", i, m, k, e, errs[i])
				}
			}
			codes[m] = orig
		}
	}
}

func TestDeterminism(t *testing.T) {
	const V, D = 700, 16
	data := gaussian(V, D, 17)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"aq", Config{M: 4, K: 16, Seed: 9, Iterations: 4}},
		{"aq-weighted", Config{M: 3, K: 8, Seed: 9, Iterations: 3, Weights: func() []float32 {
			w := make([]float32, V)
			for i := range w {
				w[i] = float32(i%5) * 0.7
			}
			return w
		}()}},
		// Conjugate-gradient refits (M*K > maxCholeskyMK), plain seeding.
		{"aq-large-K", Config{M: 5, K: 256, Seed: 9, Iterations: 3}},
		// Int8 cross terms (M*K >= q8MinMK).
		{"aq-int8-cross", Config{M: 12, K: 256, Seed: 9, Iterations: 2, KMeansIters: 2}},
		// The residual encoder (M*K > maxFieldMK).
		{"aq-huge-K", Config{M: 2, K: 4200, Seed: 9, Iterations: 2, KMeansIters: 2}},
		{"dccl", Config{M: 4, K: 8, Seed: 9, Method: MethodDCCL, Epochs: 2, Batch: 32}},
		// Large enough for a batch on two graphs (dcclShardFlops).
		{"dccl-sharded", Config{M: 8, K: 16, Hidden: 128, Seed: 9, Method: MethodDCCL, Epochs: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b, c := tc.cfg, tc.cfg, tc.cfg
			a.Threads, b.Threads, c.Threads = 1, 2, 2
			ra, rb, rc := mustLearn(t, data, V, D, a), mustLearn(t, data, V, D, b), mustLearn(t, data, V, D, c)
			if !slices.Equal(ra.Codes, rb.Codes) || !slices.Equal(ra.Codebook, rb.Codebook) {
				t.Errorf("Threads=1 and Threads=2 give different results")
			}
			if !slices.Equal(rb.Codes, rc.Codes) || !slices.Equal(rb.Codebook, rc.Codebook) {
				t.Errorf("two runs with the same seed give different results")
			}
			d := tc.cfg
			d.Seed++
			rd := mustLearn(t, data, V, D, d)
			if slices.Equal(ra.Codebook, rd.Codebook) {
				t.Errorf("a different seed gives the same codebook")
			}
		})
	}
}

func TestDCCLLearns(t *testing.T) {
	const V, D, M, K = 1000, 16, 4, 8
	data := synthAdditive(V, D, M, K, 23, 1)
	var first, last float64
	seen := false
	cfg := Config{M: M, K: K, Method: MethodDCCL, Seed: 3, Epochs: 40, LR: 3e-3, Batch: 32,
		Progress: func(p Progress) {
			if p.Phase == "validate" {
				if !seen {
					first, seen = p.Loss, true
				}
				last = p.Loss
			}
		}}
	res := mustLearn(t, data, V, D, cfg)
	// Error of predicting every row by the mean row.
	mean := make([]float64, D)
	for i := 0; i < V; i++ {
		for j := 0; j < D; j++ {
			mean[j] += float64(data[i*D+j]) / V
		}
	}
	var num, den float64
	for i := 0; i < V; i++ {
		for j := 0; j < D; j++ {
			d := float64(data[i*D+j]) - mean[j]
			num += d * d
			den += float64(data[i*D+j]) * float64(data[i*D+j])
		}
	}
	t.Logf("initial val %.4f, best val %.4f, final %.4f, mean predictor %.4f", first, last, res.Metrics.RelSqErr, num/den)
	if !(last < 0.6*first) {
		t.Errorf("validation error %.4f not well below initial %.4f", last, first)
	}
	if !(res.Metrics.RelSqErr < 0.8*num/den) {
		t.Errorf("RelSqErr %.4f not well below the mean predictor's %.4f", res.Metrics.RelSqErr, num/den)
	}
}

func TestBadInput(t *testing.T) {
	good := gaussian(10, 4, 1)
	nan := slices.Clone(good)
	nan[2*4+1] = float32(math.NaN())
	inf := slices.Clone(good)
	inf[7*4] = float32(math.Inf(-1))
	for _, tc := range []struct {
		name  string
		data  []float32
		V, D  int
		cfg   Config
		wants string
	}{
		{"empty", nil, 0, 0, Config{M: 2, K: 4}, "empty"},
		{"1-D", good[:10], 10, 1, Config{M: 2, K: 4}, "2-D"},
		{"size mismatch", good, 11, 4, Config{M: 2, K: 4}, "values"},
		{"NaN", nan, 10, 4, Config{M: 2, K: 4}, "row 2"},
		{"Inf", inf, 10, 4, Config{M: 2, K: 4}, "row 7"},
		{"K<2", good, 10, 4, Config{M: 2, K: 1}, "K must"},
		{"K too big", good, 10, 4, Config{M: 2, K: 65537}, "K must"},
		{"M<1", good, 10, 4, Config{M: 0, K: 4}, "M must"},
		{"weights length", good, 10, 4, Config{M: 2, K: 4, Weights: make([]float32, 9)}, "length 9"},
		{"negative weight", good, 10, 4, Config{M: 2, K: 4, Weights: []float32{1, 1, 1, -1, 1, 1, 1, 1, 1, 1}}, "row 3"},
		{"NaN weight", good, 10, 4, Config{M: 2, K: 4, Weights: []float32{1, 1, 1, 1, 1, float32(math.NaN()), 1, 1, 1, 1}}, "row 5"},
		{"all zero weights", good, 10, 4, Config{M: 2, K: 4, Weights: make([]float32, 10)}, "zero"},
		{"method", good, 10, 4, Config{M: 2, K: 4, Method: "pq"}, "unknown method"},
		{"anneal Inf", good, 10, 4, Config{M: 2, K: 4, Anneal: math.Inf(1)}, "anneal must be finite"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Learn(context.Background(), tc.data, tc.V, tc.D, tc.cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wants) {
				t.Errorf("error = %v, want one mentioning %q", err, tc.wants)
			}
		})
	}
}

func TestMeasure(t *testing.T) {
	// Two rows, D=2, M=1, K=2: codebook rows (1,0) and (0,1).
	data := []float32{1, 0, 0, 2}
	cb := []float32{1, 0, 0, 1}
	mt := Measure(data, 2, 2, Encoded{M: 1, K: 2, Codes: []uint16{0, 1}, Codebook: cb}, []float32{1, 3})
	// Row errors 0 and 1; norms 1 and 4.
	if want := 3.0 / 13; math.Abs(mt.RelSqErr-want) > 1e-12 {
		t.Errorf("RelSqErr = %g, want %g", mt.RelSqErr, want)
	}
	if want := 1.0 / 5; math.Abs(mt.RelSqErrUnweighted-want) > 1e-12 {
		t.Errorf("RelSqErrUnweighted = %g, want %g", mt.RelSqErrUnweighted, want)
	}
	if mt.MeanDist != 0.5 || mt.BitsPerRow != 1 || mt.CodeBytes != 1 || mt.CodebookBytes != 16 {
		t.Errorf("got %+v", mt)
	}
	if want := 16.0 / 17; math.Abs(mt.Ratio-want) > 1e-12 {
		t.Errorf("Ratio = %g, want %g", mt.Ratio, want)
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	data := gaussian(300, 8, 1)
	for _, m := range []string{"", MethodDCCL} {
		if _, err := Learn(ctx, data, 300, 8, Config{M: 2, K: 4, Method: m}); err == nil {
			t.Errorf("method %q: no error after cancel", m)
		}
	}
}

// TestDefaultSchedule pins the default refinement at both ends and between.
func TestDefaultSchedule(t *testing.T) {
	for _, tc := range []struct {
		V, D int
		want schedule
	}{
		{10, 4, schedule{128, 2, 0.45}},
		{65536, 100, schedule{128, 2, 0.45}},
		{15000, 64, schedule{128, 2, 0.45}},
		{131072, 100, schedule{64, 6, 0.354}},
		{262144, 100, schedule{32, 8, 0.306}},
		{341479, 100, schedule{28, 8, 0.3}},
		{128256, 2048, schedule{28, 8, 0.3}},
	} {
		got := defaultSchedule(tc.V, tc.D)
		if got.rounds != tc.want.rounds || got.restarts != tc.want.restarts || math.Abs(got.anneal-tc.want.anneal) > 1e-12 {
			t.Errorf("defaultSchedule(%d, %d) = %+v, want %+v", tc.V, tc.D, got, tc.want)
		}
	}
}

// TestMeasureThreads: Measure's sums do not depend on the thread count,
// and a table of up to measureRows rows is summed in row order as one.
func TestMeasureThreads(t *testing.T) {
	const V, D, M, K = 3*measureRows + 17, 6, 2, 4
	data := gaussian(V, D, 41)
	cb := gaussian(M*K, D, 43)
	codes := make([]uint16, V*M)
	w := make([]float32, V)
	for i := range codes {
		codes[i] = uint16(i * 7 % K)
	}
	for i := range w {
		w[i] = float32(i%3) + 0.5
	}
	enc := Encoded{M: M, K: K, Codes: codes, Codebook: cb}
	one := measure(data, V, D, enc, w, 1)
	for _, threads := range []int{2, 5} {
		if got := measure(data, V, D, enc, w, threads); got != one {
			t.Errorf("%d threads: %+v, one thread %+v", threads, got, one)
		}
	}
	// One chunk: the row-order sums themselves.
	n := measureRows
	var num, den float64
	for i := 0; i < n; i++ {
		var e, s float64
		for d := 0; d < D; d++ {
			y := float64(cb[int(codes[i*M])*D+d]) + float64(cb[(K+int(codes[i*M+1]))*D+d])
			r := y - float64(data[i*D+d])
			e += r * r
			s += float64(data[i*D+d]) * float64(data[i*D+d])
		}
		num += float64(w[i]) * e
		den += float64(w[i]) * s
	}
	if got := measure(data[:n*D], n, D, Encoded{M: M, K: K, Codes: codes[:n*M], Codebook: cb}, w[:n], 2); got.RelSqErr != num/den {
		t.Errorf("%d rows: RelSqErr %v, summed in row order %v", n, got.RelSqErr, num/den)
	}
}
