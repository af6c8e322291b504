package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// runTableModel writes a large table model with fixtures.WriteLargeModel:
// generated values, or the rows of a float32 .npy streamed into the data
// file.
func runTableModel(args []string) error {
	fs := flag.NewFlagSet("table-model", flag.ContinueOnError)
	dir := fs.String("dir", ".", "output folder")
	name := fs.String("name", "", "model name: writes NAME.onnx and NAME.onnx.data")
	rows := fs.Int("rows", 0, "table rows (generated values)")
	cols := fs.Int("cols", 0, "table columns (generated values)")
	seed := fs.Uint64("seed", 1, "seed of the generated values")
	extra := fs.Int("extra-cols", 0, "add an external head weight [cols, X] read by a second MatMul")
	values := fs.String("values", "", "take the table from this float32 [rows, cols] `.npy` instead")
	zeros := fs.Bool("zeros", false, "make the data file a hole of its size (zeros, never written, no disk used): with --extra-cols ROWS the head is then a transposed copy of the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" || fs.NArg() != 0 {
		return errors.New("table-model: usage: table-model --dir DIR --name NAME (--rows R --cols C | --values FILE.npy) [--seed S] [--extra-cols X] [--zeros]")
	}
	o := fixtures.LargeOptions{Rows: *rows, Cols: *cols, Seed: *seed, ExtraCols: *extra, Sparse: *zeros}
	if *values != "" {
		r, err := openNpyF32(*values)
		if err != nil {
			return err
		}
		defer r.Close()
		o.Rows, o.Cols, o.Values = r.rows, r.cols, r
	}
	start := time.Now()
	path, err := fixtures.WriteLargeModel(*dir, *name, o)
	if err != nil {
		return err
	}
	gib := float64(int64(o.Rows)*int64(o.Cols)*4+int64(o.Cols)*int64(o.ExtraCols)*4) / (1 << 30)
	fmt.Printf("table-model: wrote %s: table [%d, %d], head [%d, %d], %.2f GiB external data, %.1fs\n",
		path, o.Rows, o.Cols, o.Cols, o.ExtraCols, gib, time.Since(start).Seconds())
	return nil
}

// runRandomCodes writes uniformly random codes and a random codebook: what
// a rewrite needs, for timing it without learning.
func runRandomCodes(args []string) error {
	fs := flag.NewFlagSet("random-codes", flag.ContinueOnError)
	rows := fs.Int("rows", 0, "table rows V")
	m := fs.Int("M", 16, "codes per row")
	k := fs.Int("K", 16, "values per code (<= 256)")
	dim := fs.Int("dim", 0, "table columns D")
	codes := fs.String("codes", "", "output uint8 [V, M] `.npy`")
	book := fs.String("codebook", "", "output float32 [M*K, D] `.npy`")
	seed := fs.Uint64("seed", 1, "seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *rows <= 0 || *dim <= 0 || *m <= 0 || *k < 2 || *k > 256 || *codes == "" || *book == "" {
		return errors.New("random-codes: usage: random-codes --rows V --M M --K K (2..256) --dim D --codes FILE.npy --codebook FILE.npy [--seed S]")
	}
	rng := rand.New(rand.NewPCG(*seed, 0x636f646573))
	c := make([]uint8, *rows**m)
	for i := range c {
		c[i] = uint8(rng.IntN(*k))
	}
	b := make([]float32, *m**k**dim)
	for i := range b {
		b[i] = float32(rng.NormFloat64() * 0.05)
	}
	if err := npy.WriteFile(*codes, npy.FromUint8([]int{*rows, *m}, c)); err != nil {
		return err
	}
	return npy.WriteFile(*book, npy.FromFloat32([]int{*m * *k, *dim}, b))
}

// runLearnProbe runs the learner on a table (or its first rows) for a
// while, printing the time of every progress event, then stops it and
// extrapolates each phase from the steps seen: for tables the learner
// cannot finish in a benchmark's time.
func runLearnProbe(args []string) error {
	fs := flag.NewFlagSet("learn-probe", flag.ContinueOnError)
	modelPath := fs.String("model", "", "read the largest table of this model")
	m := fs.Int("M", 16, "codes per row")
	k := fs.Int("K", 16, "values per code")
	rows := fs.Int("rows", 0, "learn on the first N rows only (0: all)")
	iters := fs.Int("iterations", 0, "aq refinement rounds (0: the learner's default)")
	budget := fs.Duration("for", 5*time.Minute, "stop after this long")
	threads := fs.Int("threads", 0, "learner threads (0: all CPUs)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the learning to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	t0 := time.Now()
	data, V, D, err := probeTable(*modelPath, fs.Args())
	if err != nil {
		return err
	}
	if *rows > 0 && *rows < V {
		data, V = data[:*rows*D], *rows
	}
	fmt.Printf("learn-probe: [%d, %d] M=%d K=%d, read in %.1fs, GOMAXPROCS %d\n", V, D, *m, *k, time.Since(t0).Seconds(), runtime.GOMAXPROCS(0))

	stop, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	ctx, cancel := context.WithTimeout(context.Background(), *budget)
	defer cancel()
	tr := &phaseTracker{start: time.Now()}
	cfg := learner.Config{M: *m, K: *k, Seed: 1, Iterations: *iters, Threads: *threads, Progress: tr.progress}
	res, err := learner.Learn(ctx, data, V, D, cfg)
	elapsed := time.Since(tr.start)
	if err == nil {
		fmt.Printf("learn-probe: finished in %.1fs, rel sq err %.4f\n", elapsed.Seconds(), res.Metrics.RelSqErr)
	} else if ctx.Err() != nil {
		fmt.Printf("learn-probe: stopped after %.1fs\n", elapsed.Seconds())
	} else {
		return err
	}
	tr.report()
	return nil
}

// probeTable reads the table to learn: the largest of a model, or a .npy.
func probeTable(modelPath string, args []string) ([]float32, int, int, error) {
	switch {
	case modelPath != "" && len(args) == 0:
		mod, err := model.Load(modelPath)
		if err != nil {
			return nil, 0, 0, err
		}
		inv, err := onnxrewrite.FindTables(mod)
		if err != nil {
			return nil, 0, 0, err
		}
		t, err := inv.Table("")
		if err != nil {
			return nil, 0, 0, err
		}
		mat, err := onnxrewrite.ReadTable(mod, t)
		if err != nil {
			return nil, 0, 0, err
		}
		return mat.Data, mat.Rows, mat.Cols, nil
	case modelPath == "" && len(args) == 1:
		a, err := npy.ReadFile(args[0])
		if err != nil {
			return nil, 0, 0, err
		}
		if len(a.Shape) != 2 {
			return nil, 0, 0, fmt.Errorf("%s: shape %v, want [V, D]", args[0], a.Shape)
		}
		data, err := a.Float32s()
		return data, a.Shape[0], a.Shape[1], err
	}
	return nil, 0, 0, errors.New("learn-probe: usage: learn-probe (--model MODEL.onnx | TABLE.npy) -M M -K K [--rows N] [--iterations N] [--for DURATION]")
}

// phaseTracker prints the learner's progress and estimates each phase's
// whole time from the steps seen.
type phaseTracker struct {
	start  time.Time
	phases []*probePhase
}

type probePhase struct {
	name        string
	total       int
	first, last time.Duration // times of the phase's start and its last step
	steps       int
}

func (t *phaseTracker) progress(p learner.Progress) {
	now := time.Since(t.start)
	n := len(t.phases)
	if n == 0 || t.phases[n-1].name != p.Phase {
		begin := time.Duration(0)
		if n > 0 {
			begin = t.phases[n-1].last
		}
		t.phases = append(t.phases, &probePhase{name: p.Phase, total: p.Total, first: begin})
	}
	cur := t.phases[len(t.phases)-1]
	cur.steps, cur.last = p.Step, now
	fmt.Printf("  %8.1fs  %s %d/%d  loss %.4f\n", now.Seconds(), p.Phase, p.Step, p.Total, p.Loss)
}

func (t *phaseTracker) report() {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	est := 0.0
	for _, p := range t.phases {
		per := (p.last - p.first).Seconds() / float64(max(p.steps, 1))
		full := per * float64(max(p.total, p.steps))
		est += full
		fmt.Printf("learn-probe: phase %s: %d/%d steps in %.1fs, %.2fs a step, whole phase ~%.0fs\n",
			p.name, p.steps, p.total, (p.last - p.first).Seconds(), per, full)
	}
	fmt.Printf("learn-probe: estimated total (phases seen) ~%.0fs; Go heap in use %d MiB, from the OS %d MiB\n",
		est, ms.HeapInuse>>20, ms.Sys>>20)
}

// runCompressProbe runs compress.Compress on a model in memory (nothing is
// saved) for a while under a CPU profile, printing the time of each event:
// to see where the time before learning goes.
func runCompressProbe(args []string) error {
	fs := flag.NewFlagSet("compress-probe", flag.ContinueOnError)
	m := fs.Int("M", 16, "codes per row")
	k := fs.Int("K", 16, "values per code")
	metric := fs.String("metric", "auto", "auto or euclidean")
	budget := fs.Duration("for", 5*time.Minute, "stop after this long")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to `FILE`")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("compress-probe: usage: compress-probe [-M M -K K --metric auto|euclidean --for DURATION --cpuprofile FILE] MODEL.onnx")
	}
	stop, err := startCPUProfile(*cpuprofile)
	if err != nil {
		return err
	}
	defer stop()
	start := time.Now()
	mod, err := model.Load(fs.Arg(0))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), *budget)
	defer cancel()
	last := ""
	_, err = compress.Compress(ctx, mod, compress.Options{M: *m, K: *k, Metric: *metric, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, Progress: func(ev compress.Event) {
		what := ev.Phase
		if ev.Learn != nil {
			what = fmt.Sprintf("learn %s %d/%d", ev.Learn.Phase, ev.Learn.Step, ev.Learn.Total)
		}
		if what != last {
			fmt.Printf("  %8.1fs  %s\n", time.Since(start).Seconds(), what)
			last = what
		}
	}})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Printf("compress-probe: %v after %.1fs; Go heap in use %d MiB, from the OS %d MiB\n", err, time.Since(start).Seconds(), ms.HeapInuse>>20, ms.Sys>>20)
	return nil
}

// startCPUProfile profiles the process into path until stop is called; with
// an empty path it does nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
