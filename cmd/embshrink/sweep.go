package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/internal/sweepreport"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/sweep"
)

func sweepCommand() *cli.Command {
	return &cli.Command{
		Name:      "sweep",
		Usage:     "compress at many settings, plus float16/int8/int4 references, and validate each against the original",
		ArgsUsage: "MODEL.onnx",
		Description: "Each code setting is learned through the codes cache (--codes-dir), rewritten and validated on the\n" +
			"held-out --inputs in ONNX Runtime with validate's gate; the reference quantisations are built and\n" +
			"validated the same way. Prints a table sorted by bytes and the smallest setting that passes, as the\n" +
			"exact compress command.",
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "calibration", Usage: "calibration inputs, as for compress (repeatable)"},
			&cli.StringSliceFlag{Name: "inputs", Usage: "held-out input values as `NAME=FILE.npy` (repeatable); without, validate's generated inputs"},
			dimFlag(),
			&cli.StringFlag{Name: "M", Usage: "codes per row, comma-separated (default: a grid spanning about 5x to 100x)"},
			&cli.StringFlag{Name: "K", Value: "16", Usage: "values per code, comma-separated (with -M)"},
			&cli.StringFlag{Name: "table", Usage: "table `NAME` (default: the largest)"},
			&cli.StringFlag{Name: "references", Value: "float16,int8-row,int4-block", Usage: "reference schemes, comma-separated, or none"},
			&cli.StringFlag{Name: "report", Usage: "write the HTML report to `FILE.html`"},
			&cli.StringFlag{Name: "codes-dir", Usage: "codes cache `DIR` (default: the user cache dir's embshrink/codes)"},
			&cli.StringFlag{Name: "work-dir", Usage: "keep the variant models in `DIR` (default: a temporary folder, removed)"},
			&cli.BoolFlag{Name: "latency", Usage: "also measure latency and peak RSS growth of each layout, each model in a child process"},
			&cli.StringFlag{Name: "method", Usage: "learner: aq (default) or dccl"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "learner seed"},
			&cli.IntFlag{Name: "threads", Usage: "learner threads (0: all CPUs)"},
			&cli.Float64Flag{Name: "floor", Value: compress.DefaultFloor, Usage: "share of the row weight spread evenly with --calibration"},
			&cli.StringFlag{Name: "metric", Value: "auto", Usage: "auto or euclidean, as for compress"},
			&cli.StringFlag{Name: "codebook-dtype", Value: "auto", Usage: "codebook type of the code settings, as for compress: float32, float16, bfloat16 or auto"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		}, slices.Concat(gateFlags(), searchFlags(), textFlags(true, true))...),
		Action: runSweep,
	}
}

func runSweep(c *cli.Context) error {
	path, err := oneArg(c, "MODEL.onnx")
	if err != nil {
		return err
	}
	opts, err := sweepOptions(c, path)
	if err != nil {
		return inputError(err)
	}
	if opts.WorkDir == "" {
		if opts.WorkDir, err = os.MkdirTemp("", "embshrink-sweep-"); err != nil {
			return inputError(err)
		}
		defer os.RemoveAll(opts.WorkDir)
	} else if err := os.MkdirAll(opts.WorkDir, 0o755); err != nil {
		return inputError(err)
	}
	rt, err := openRuntime("sweep")
	if err != nil {
		return err
	}
	defer rt.Close()
	if givenInputs(c, "calibration", "calibration-text") {
		m, err := model.Load(path)
		if err != nil {
			return inputError(err)
		}
		in, err := calibrationInputs(opts.Compare.Roles, inputFiles(c, "calibration", "calibration-text"), c.Command.Name, c.App.ErrWriter)
		if err != nil {
			return inputError(err)
		}
		if opts.Compress.Counts, err = calibrate.RowCounts(rt, m, nil, in); err != nil {
			return inputError(err)
		}
	}
	if c.Bool("latency") {
		opts.Measure = measureInChild(c.StringSlice("inputs"))
	}
	prog := newSweepProgress(c.App.ErrWriter)
	opts.Progress = prog.event
	res, err := sweep.Run(c.Context, rt, path, opts)
	prog.close()
	if err != nil {
		return inputError(err)
	}
	gate := ""
	if len(res.Points) > 0 {
		gate = sweep.GateText(res.Points[0].Compare)
	}
	rep := res.Report(recommendCommand(c, path, res), toolVersion(), gate)
	if file := c.String("report"); file != "" {
		if err := writeReport(file, rep); err != nil {
			return inputError(err)
		}
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			*sweep.Result
			Command string `json:"command,omitempty"`
		}{res, rep.Command})
	}
	if err := sweepreport.Table(c.App.Writer, rep); err != nil {
		return err
	}
	for _, s := range res.Skipped {
		fmt.Fprintf(c.App.Writer, "skipped %s: %s\n", s.Label, s.Note)
	}
	if len(res.Points) > 0 && res.Points[0].Compare != nil {
		if note := notRealNote(res.Points[0].Compare.NotRealInputs); note != "" {
			fmt.Fprintln(c.App.Writer, note)
		}
	}
	return nil
}

// sweepOptions reads the flags.
func sweepOptions(c *cli.Context, path string) (sweep.Options, error) {
	gate, err := gateOptions(c)
	if err != nil {
		return sweep.Options{}, err
	}
	if gate.Dims, err = parseDims(c); err != nil {
		return sweep.Options{}, err
	}
	opts := sweep.Options{Table: c.String("table"), Compare: gate, WorkDir: c.String("work-dir"), Version: toolVersion()}
	if c.String("M") != "" {
		ms, err := sweep.ParseInts(c.String("M"))
		if err != nil {
			return opts, fmt.Errorf("-M %w", err)
		}
		ks, err := sweep.ParseInts(c.String("K"))
		if err != nil {
			return opts, fmt.Errorf("-K %w", err)
		}
		opts.Settings = sweep.Grid(ms, ks)
	} else if c.IsSet("K") {
		return opts, fmt.Errorf("-K needs -M")
	}
	opts.References = []onnxrewrite.QuantScheme{}
	if r := c.String("references"); r != "none" {
		for _, s := range strings.Split(r, ",") {
			opts.References = append(opts.References, onnxrewrite.QuantScheme(strings.TrimSpace(s)))
		}
	}
	m, err := model.Load(path)
	if err != nil {
		return opts, err
	}
	if opts.Compare.Roles, err = roles.Detect(m); err != nil {
		return opts, err
	}
	if givenInputs(c, "inputs", "inputs-text") {
		if opts.Compare.Inputs, err = readInputs(c, opts.Compare.Roles, "inputs", "inputs-text", c.App.ErrWriter); err != nil {
			return opts, err
		}
	}
	opts.Compress = compress.Options{Method: c.String("method"), Seed: c.Int64("seed"), Threads: c.Int("threads"),
		Floor: c.Float64("floor"), Metric: c.String("metric"), CodesDir: c.String("codes-dir"),
		CodebookDType: c.String("codebook-dtype"),
		Iterations:    c.Int("iterations"), Restarts: c.Int("restarts"), Perturb: c.Int("perturb"), Anneal: c.Float64("anneal")}
	if opts.Compress.CodesDir == "" {
		opts.Compress.CodesDir = defaultCodesDir()
	}
	return opts, nil
}

// defaultCodesDir is the user cache dir's embshrink/codes (a temporary
// folder's when there is no user cache dir).
func defaultCodesDir() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		dir = os.TempDir()
	}
	return filepath.Join(dir, "embshrink", "codes")
}

func writeReport(file string, rep sweepreport.Report) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := sweepreport.WriteHTML(f, rep); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// recommendCommand is the compress command that produces the recommended
// point, with the sweep's own codes cache so that it is instant.
func recommendCommand(c *cli.Context, path string, res *sweep.Result) string {
	if res.Recommended < 0 {
		return ""
	}
	p := res.Points[res.Recommended]
	stem := strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	args := []string{"embshrink", "compress", path, "--table", res.Table, "-M", fmt.Sprint(p.M), "-K", fmt.Sprint(p.K)}
	for _, s := range c.StringSlice("calibration") {
		args = append(args, "--calibration", s)
	}
	for _, f := range []string{"calibration-text", "tokenizer", "max-length"} {
		if c.IsSet(f) {
			args = append(args, "--"+f, c.String(f))
		}
	}
	for _, f := range []string{"method", "seed", "threads", "floor", "metric", "codebook-dtype", "iterations", "restarts", "perturb", "anneal"} {
		if c.IsSet(f) {
			args = append(args, "--"+f, c.String(f))
		}
	}
	codesDir := c.String("codes-dir")
	if codesDir == "" {
		codesDir = defaultCodesDir()
	}
	args = append(args, "--codes-dir", codesDir, "-o", fmt.Sprintf("%s-%dx%d.onnx", stem, p.M, p.K))
	for i, a := range args {
		args[i] = shellQuote(a)
	}
	return strings.Join(args, " ")
}

func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '=' || r == ',' || r == ':' || r == '+' ||
			('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
