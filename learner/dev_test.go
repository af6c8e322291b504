package learner

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// TestDevGlove is a development helper: EMBSHRINK_DEV=1 go test -run DevGlove -v
func TestDevGlove(t *testing.T) {
	if os.Getenv("EMBSHRINK_DEV") == "" {
		t.Skip("set EMBSHRINK_DEV=1")
	}
	data, V, D, err := readNpyFloat32("../../shared/data/glove-100d-50k.npy")
	if err != nil {
		t.Skip(err)
	}
	envInt := func(k string, d int) int {
		if v, err := strconv.Atoi(os.Getenv(k)); err == nil {
			return v
		}
		return d
	}
	if n := envInt("ROWS", V); n < V {
		V = n
		data = data[:V*D]
	}
	cfg := Config{M: envInt("M", 32), K: envInt("K", 16), Method: os.Getenv("METHOD"),
		Iterations: envInt("ITERS", 0), ICMSweeps: envInt("SWEEPS", 0), Restarts: envInt("RESTARTS", 0),
		Perturb: envInt("PERTURB", 0), KMeansIters: envInt("KMI", 0), Epochs: envInt("EPOCHS", 0), Batch: envInt("BATCH", 0)}
	if s := os.Getenv("ANNEAL"); s != "" {
		cfg.Anneal, _ = strconv.ParseFloat(s, 64)
	}
	if s := os.Getenv("LR"); s != "" {
		cfg.LR, _ = strconv.ParseFloat(s, 64)
	}
	if s := os.Getenv("BUDGET"); s != "" {
		cfg.TimeBudget, _ = time.ParseDuration(s)
	}
	start := time.Now()
	cfg.Progress = func(p Progress) {
		t.Logf("%6.1fs %s %d/%d loss=%.4f", time.Since(start).Seconds(), p.Phase, p.Step, p.Total, p.Loss)
	}
	res, err := Learn(context.Background(), data, V, D, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("V=%d M=%d K=%d method=%q rel=%.4f dist=%.4f time=%.1fs", V, cfg.M, cfg.K, cfg.Method, res.Metrics.RelSqErr, res.Metrics.MeanDist, res.Elapsed.Seconds())
}
