package learner

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"
)

// gloveFile is the shared benchmark table, relative to this package.
const gloveFile = "../../shared/data/glove-100d-50k.npy"

func loadGlove(b *testing.B) ([]float32, int, int) {
	b.Helper()
	if _, err := os.Stat(gloveFile); err != nil {
		b.Skipf("benchmark table %s not available: %v", gloveFile, err)
	}
	data, V, D, err := readNpyFloat32(gloveFile)
	if err != nil {
		b.Fatalf("reading %s: %v", gloveFile, err)
	}
	return data, V, D
}

// runBench learns codes for the first V rows b.N times and reports the
// relative squared error, the wall and CPU seconds of the last run, plus the error and time of the residual k-means
// initialisation (a residual-quantiser baseline) for the default method, or
// the time per epoch for dccl.
func runBench(b *testing.B, data []float32, V, D int, cfg Config) {
	b.Helper()
	data = data[:V*D]
	var initErr float64
	var initDur time.Duration
	var epochs int
	var start time.Time
	cfg.Progress = func(p Progress) {
		switch {
		case p.Phase == "init" && p.Step == p.Total:
			initErr, initDur = p.Loss, time.Since(start)
		case p.Phase == "validate":
			epochs = p.Step
		}
	}
	var res *Result
	var cpu time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start = time.Now()
		cpu0 := cpuTime()
		var err error
		res, err = Learn(context.Background(), data, V, D, cfg)
		if err != nil {
			b.Fatal(err)
		}
		cpu = cpuTime() - cpu0
	}
	b.StopTimer()
	b.ReportMetric(res.Metrics.RelSqErr, "relsqerr")
	b.ReportMetric(res.Metrics.MeanDist, "meandist")
	b.ReportMetric(res.Elapsed.Seconds(), "s")
	// CPU seconds (all threads) are steadier than wall time on a shared
	// machine.
	if cpu > 0 {
		b.ReportMetric(cpu.Seconds(), "cpu-s")
	}
	if cfg.Method == MethodDCCL {
		if epochs > 0 {
			b.ReportMetric(res.Elapsed.Seconds()/float64(epochs), "s/epoch")
		}
	} else {
		b.ReportMetric(initErr, "init-relsqerr")
		b.ReportMetric(initDur.Seconds(), "init-s")
	}
}

// BenchmarkAQ measures the default method on GloVe 100-d, 50k rows:
//
//	go test ./learner/ -run '^$' -bench AQ -benchtime 1x -count 3 -timeout 60m
func BenchmarkAQ(b *testing.B) {
	data, V, D := loadGlove(b)
	for _, tc := range []struct{ V, M, K int }{
		{V, 32, 16}, {V, 16, 16}, {V, 8, 8}, {10000, 32, 16},
	} {
		b.Run(fmt.Sprintf("V=%d/M=%d/K=%d", tc.V, tc.M, tc.K), func(b *testing.B) {
			runBench(b, data, min(tc.V, V), D, Config{M: tc.M, K: tc.K, Seed: 1})
		})
	}
}

// BenchmarkDCCL measures the paper's network on GloVe. The number of epochs
// is EMBSHRINK_DCCL_EPOCHS (default 1: a timing baseline per epoch):
//
//	EMBSHRINK_DCCL_EPOCHS=1 go test ./learner/ -run '^$' -bench DCCL -benchtime 1x -count 3
func BenchmarkDCCL(b *testing.B) {
	data, V, D := loadGlove(b)
	epochs := 1
	if s := os.Getenv("EMBSHRINK_DCCL_EPOCHS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("EMBSHRINK_DCCL_EPOCHS=%q: want a positive integer", s)
		}
		epochs = n
	}
	for _, tc := range []struct{ V, M, K int }{
		{V, 32, 16}, {V, 16, 16}, {V, 8, 8}, {10000, 32, 16},
	} {
		b.Run(fmt.Sprintf("V=%d/M=%d/K=%d", tc.V, tc.M, tc.K), func(b *testing.B) {
			runBench(b, data, min(tc.V, V), D, Config{M: tc.M, K: tc.K, Seed: 1, Method: MethodDCCL, Epochs: epochs})
		})
	}
}

// BenchmarkSmallTable measures the default method on a synthetic 4096x64
// table at 16x16, the size of table the test suites learn often:
//
//	go test ./learner/ -run '^$' -bench SmallTable -benchtime 3x
func BenchmarkSmallTable(b *testing.B) {
	const V, D = 4096, 64
	runBench(b, gaussian(V, D, 1), V, D, Config{M: 16, K: 16, Seed: 1})
}

// learnedAQ returns the learner's state for the first V GloVe rows at 32x16
// after the given refinement rounds (single-threaded), and the result it
// came from: the starting point of the benchmarks of one step of a round.
func learnedAQ(b *testing.B, V, rounds int) (*aq, *Result) {
	return learnedAQWith(b, V, Config{M: 32, K: 16, Seed: 1, Threads: 1, Iterations: rounds})
}

// learnedAQWith is learnedAQ for any configuration.
func learnedAQWith(b *testing.B, V int, cfg Config) (*aq, *Result) {
	b.Helper()
	data, rows, D := loadGlove(b)
	V = min(V, rows)
	res, err := Learn(context.Background(), data[:V*D], V, D, cfg)
	if err != nil {
		b.Fatal(err)
	}
	a := newAQ(data[:V*D], V, D, cfg)
	copy(a.codes, res.Codes)
	copy(a.cb, res.Codebook)
	return a, res
}

// BenchmarkEncodeRound times one encoding pass (products, ICM sweeps and 2
// restarts a row, single-threaded) of the first 10,000 GloVe rows at 32x16
// after 2 refinement rounds, the inner loop of every default round:
//
//	go test ./learner -run '^$' -bench 'EncodeRound$' -count 5
func BenchmarkEncodeRound(b *testing.B) {
	a, res := learnedAQ(b, 10000, 2)
	benchEncode(b, a, res.Codes, 1, a.cfg.encodeOpts(2))
}

// benchEncode times encoding passes of round from the given codes and
// reports the last pass's error.
func benchEncode(b *testing.B, a *aq, codes []uint16, round int, opts encodeOpts) {
	var loss float64
	var err error
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		copy(a.codes, codes)
		if loss, err = a.encode(context.Background(), round, opts); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(loss, "relsqerr")
}

// BenchmarkEncodeRound256 times one encoding pass of GloVe 50k at 8x256 on
// two threads, from the codes and codebook of 4 rounds with annealing noise
// added as in the middle of a default run (0.3 of the error): the step that
// takes four fifths of a K = 256 round's time, without the k-means
// initialisation and the refits. The machines here are shared, so compare
// builds by the median of many runs, alternated:
//
//	go test ./learner -run '^$' -bench EncodeRound256 -count 7
func BenchmarkEncodeRound256(b *testing.B) {
	a, res := learnedAQWith(b, 50000, Config{M: 8, K: 256, Seed: 1, Threads: 2, Iterations: 4})
	opts := a.cfg.encodeOpts(2)
	// The noise is scaled by the last encoding's error.
	if _, err := a.encode(context.Background(), 1, opts); err != nil {
		b.Fatal(err)
	}
	a.perturbCodebook(0.3, 5)
	benchEncode(b, a, res.Codes, 2, opts)
}

// BenchmarkRefit times one least-squares codebook refit (the pair counts,
// the codeword sums and the solve, single-threaded) of the first 50,000
// GloVe rows at 32x16 after one refinement round:
//
//	go test ./learner -run '^$' -bench 'Refit$' -count 5
func BenchmarkRefit(b *testing.B) {
	a, _ := learnedAQ(b, 50000, 1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := a.refit(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(Measure(a.x, a.V, a.D, Encoded{M: 32, K: 16, Codes: a.codes, Codebook: a.cb}, nil).RelSqErr, "relsqerr")
}
