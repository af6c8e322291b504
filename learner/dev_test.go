package learner

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDevGlove learns one configuration on GloVe, chosen by environment
// variables (FILE, a .npy table instead of the shared GloVe 50k; ROWS, M, K, SEED, METHOD, ITERS, SWEEPS, RESTARTS, PERTURB, KMI, TRIALS,
// EPOCHS, BATCH, LR, TARGET, LIMIT, DTYPE, ANNEAL; AVX512=0 runs the AVX2 kernels instead), and
// reports its error and time;
// with -v it logs every progress report:
//
//	M=16 K=16 go test ./learner/ -run '^$' -bench DevGlove -benchtime 1x -v
func BenchmarkDevGlove(b *testing.B) {
	envInt := func(k string, d int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
			return v
		}
		return d
	}
	if os.Getenv("AVX512") == "0" {
		has512 := useAVX512
		useAVX512 = false
		defer func() { useAVX512 = has512 }()
	}
	var data []float32
	var V, D int
	if f := os.Getenv("FILE"); f != "" {
		var err error
		if data, V, D, err = readNpyFloat32(f); err != nil {
			b.Fatal(err)
		}
	} else {
		data, V, D = loadGlove(b)
	}
	envFloat := func(k string) float64 {
		v, _ := strconv.ParseFloat(os.Getenv(k), 64)
		return v
	}
	V = min(V, envInt("ROWS", V))
	data = data[:V*D]
	cfg := Config{M: envInt("M", 32), K: envInt("K", 16), Method: os.Getenv("METHOD"), Seed: int64(envInt("SEED", 1)),
		Iterations: envInt("ITERS", 0), ICMSweeps: envInt("SWEEPS", 0), Restarts: envInt("RESTARTS", 0),
		Perturb: envInt("PERTURB", 0), KMeansIters: envInt("KMI", 0), KMeansTrials: envInt("TRIALS", 0), Epochs: envInt("EPOCHS", 0), Batch: envInt("BATCH", 0),
		LR: envFloat("LR"), TargetError: envFloat("TARGET"), CodebookDType: os.Getenv("DTYPE")}
	cfg.TimeLimit, _ = time.ParseDuration(os.Getenv("LIMIT"))
	cfg.Anneal = envFloat("ANNEAL")
	var start time.Time
	cfg.Progress = func(p Progress) {
		if testing.Verbose() {
			b.Logf("%6.1fs %s %d/%d loss=%.4f", time.Since(start).Seconds(), p.Phase, p.Step, p.Total, p.Loss)
		}
	}
	var res *Result
	var cpu time.Duration
	for i := 0; i < b.N; i++ {
		start = time.Now()
		cpu0 := cpuTime()
		var err error
		if res, err = Learn(context.Background(), data, V, D, cfg); err != nil {
			b.Fatal(err)
		}
		cpu = cpuTime() - cpu0
	}
	b.ReportMetric(res.Metrics.RelSqErr, "relsqerr")
	b.ReportMetric(res.Elapsed.Seconds(), "s")
	b.ReportMetric(cpu.Seconds(), "cpu-s")
	b.Logf("V=%d M=%d K=%d method=%q rel=%.4f time=%.1fs cpu=%.1fs stopped: %s", V, cfg.M, cfg.K, cfg.Method,
		res.Metrics.RelSqErr, res.Elapsed.Seconds(), cpu.Seconds(), res.Stopped)
}
