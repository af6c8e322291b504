package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/fidelity"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

func compressCommand() *cli.Command {
	return &cli.Command{
		Name:      "compress",
		Usage:     "shrink every embedding table (or those named): learn codes and rewrite the model",
		ArgsUsage: "MODEL.onnx | DIR -o OUTDIR",
		Description: "A folder (or several files: an encoder and a decoder) is compressed as one job: tables the files\n" +
			"share bitwise are learned once and every file rewritten with the same codes; -o names the output\n" +
			"folder (same file names), written all or none; --calibration takes FILE.onnx:SPEC.\n" +
			"Once the output is saved, compress runs it and the original in ONNX Runtime on held-out inputs\n" +
			"(--inputs, as for validate; else the last fifth of --calibration, held back from the row weights;\n" +
			"else, with --self-calibrate, sequences sampled apart from those counted) and prints validate's\n" +
			"figures per output. --min-agreement or --min-cosine without -M/-K choose\n" +
			"the smallest setting of the sweep's grid that meets the gate (none: exit 1, nothing written);\n" +
			"with -M/-K the gate flags only gate: the model is written and a figure below exits 1.",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "M", Usage: "codes per row (with -K; default: chosen from --ratio and the table's shape)"},
			&cli.IntFlag{Name: "K", Usage: "values per code, 2..65536 (with -M)"},
			&cli.Float64Flag{Name: "ratio", Value: compress.DefaultRatio, Usage: "shrink each table at least this much when -M/-K are not given"},
			&cli.StringSliceFlag{Name: "table", Usage: "table `NAME` to compress (repeatable; default: all)"},
			&cli.Float64Flag{Name: "floor", Value: compress.DefaultFloor, Usage: "share of the row weight spread evenly over all rows with --calibration"},
			&cli.StringFlag{Name: "method", Usage: "learner: aq (default) or dccl (the paper's network)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed (same seed, same output)"},
			&cli.IntFlag{Name: "threads", Usage: "learner threads (0: all CPUs; the output does not depend on it)"},
			&cli.StringFlag{Name: "metric", Value: "auto", Usage: "auto: learn in the readout metric when the model reads rows through a linear map, else in relative error (weights / |row|^2) when it reads them through a norm or the table is tied; euclidean: plain squared error"},
			&cli.DurationFlag{Name: "time-limit", Usage: "learn each table for at most this `DURATION`, keeping the best codes found, aq fitting its default rounds to it (0: no limit)"},
			&cli.Float64Flag{Name: "target-error", Usage: "stop learning a table once its (weighted) relative squared error reaches this (0: none)"},
			&cli.StringFlag{Name: "codebook-dtype", Value: "auto", Usage: "store codebooks as float32, float16, bfloat16 or auto (float16 for float32, float16 and quantized tables unless the error grows > 1%)"},
			&cli.StringFlag{Name: "codes-dir", Usage: "keep learned codes in `DIR` and reuse them when the table and settings are unchanged"},
			&cli.Int64Flag{Name: "min-table-bytes", Value: compress.DefaultMinTableBytes, Usage: "leave smaller tables alone"},
			inputsFlag(),
		}, slices.Concat(calibrationFlags(), textFlags(true, true), outputFlags(), searchFlags(), gateFlags())...),
		Action: runCompress,
	}
}

func runCompress(c *cli.Context) error {
	if c.NArg() > 0 && isMulti(c) {
		return runCompressMulti(c)
	}
	path, err := oneArg(c, "MODEL.onnx")
	if err != nil {
		return err
	}
	save, err := saveOptions(c)
	if err != nil {
		return err
	}
	oc := newOutputCheck(c.Context, c.App.ErrWriter)
	save.Check = oc.check
	start := time.Now()
	m, err := model.Load(path)
	if err != nil {
		return inputError(err)
	}
	before := filesBytes(path)
	out := c.String("output")
	if err := m.CheckOutput(out, save); err != nil {
		return inputError(err)
	}
	g, err := newCompressGate(c, m)
	if err != nil {
		return inputError(err)
	}
	opts := compressOptions(c, path)
	opts.CheckOutput = func(p *model.Model) error { return oc.preview(p, out, save) }
	stderr := c.App.ErrWriter
	closeRuntime, heldCal, err := setupCalibration(c, m, &opts, g.held == nil, stderr)
	if err != nil {
		return inputError(err)
	}
	defer closeRuntime()
	if g.held == nil {
		g.held = heldCal
	}
	if err := g.needHeld(); err != nil {
		return inputError(err)
	}
	var choice *fidelity.Choice
	if g.choosing {
		ch, done, err := g.choose(c.Context, path, &opts, stderr)
		defer done()
		if err != nil {
			if ch != nil && c.Bool("json") {
				writeJSON(c.App.Writer, struct {
					Choice *fidelity.Choice `json:"choice"`
				}{ch})
			}
			return err
		}
		choice = ch
	}
	opts.Progress = compressProgress(stderr)
	rep, err := compress.Compress(c.Context, m, opts)
	if errors.Is(err, compress.ErrNothingCompressed) {
		return inputError(fmt.Errorf("%w; nothing written", err))
	}
	if err != nil {
		return inputError(err)
	}
	if err := compress.RecordProvenance(m, path, toolVersion(), rep, opts); err != nil {
		return inputError(err)
	}
	if err := m.SaveContext(c.Context, out, save); err != nil {
		return inputError(err)
	}
	oc.report()
	fig, err := g.measure(path, out)
	if err != nil {
		return inputError(err)
	}
	res := compressResult{Report: rep, Choice: choice, Fidelity: fig, Output: out, FilesBefore: before, FilesAfter: filesBytes(out)}
	res.Seconds = time.Since(start).Seconds()
	if err := res.print(c, opts); err != nil {
		return err
	}
	return g.verdict(fig, out)
}

// compressResult is what compress prints, and its --json document.
type compressResult struct {
	*compress.Report
	// Choice is the sweep that chose the codes, with --min-agreement or
	// --min-cosine and no -M/-K.
	Choice *fidelity.Choice `json:"choice,omitempty"`
	// Fidelity is the output's figure on held-out inputs; nil when there
	// were none (FidelityNote says so).
	Fidelity     *fidelity.Figure `json:"fidelity"`
	FidelityNote string           `json:"fidelity_note,omitempty"`
	Output       string           `json:"output"`
	FilesBefore  int64            `json:"files_bytes_before"`
	FilesAfter   int64            `json:"files_bytes_after"`
	Seconds      float64          `json:"seconds"`
}

func (r compressResult) print(c *cli.Context, opts compress.Options) error {
	if r.Fidelity == nil {
		r.FidelityNote = notMeasured
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, r)
	}
	w := c.App.Writer
	printChoice(w, r.Choice)
	printCompress(w, r.Report)
	for _, t := range r.Tables {
		if t.Skipped == "" {
			fmt.Fprintf(w, "%s: codebook %s (%s)\n", t.Name, t.CodebookDType, t.CodebookReason)
		}
		if t.Stopped != "" && (opts.TargetError > 0 || opts.TimeLimit > 0) {
			fmt.Fprintf(w, "%s: learning stopped: %s\n", t.Name, t.Stopped)
		}
	}
	printFidelity(w, r.Fidelity)
	fmt.Fprintf(w, "model files: %d -> %d bytes (%.1fx smaller), %.1fs; wrote %s\n",
		r.FilesBefore, r.FilesAfter, float64(r.FilesBefore)/float64(max(r.FilesAfter, 1)), r.Seconds, r.Output)
	return nil
}

// compressOptions are compress's flags as compress.Options.
func compressOptions(c *cli.Context, path string) compress.Options {
	opts := compress.Options{
		Tables: c.StringSlice("table"), M: c.Int("M"), K: c.Int("K"), Ratio: c.Float64("ratio"),
		Method: c.String("method"), Seed: c.Int64("seed"), Threads: c.Int("threads"),
		Layout: onnxrewrite.Layout(c.String("layout")), NoPack: c.Bool("no-pack"), NoBag: c.Bool("no-bag"), Metric: c.String("metric"),
		CodebookDType: c.String("codebook-dtype"), TargetError: c.Float64("target-error"), TimeLimit: c.Duration("time-limit"),
		Floor: c.Float64("floor"), CodesDir: c.String("codes-dir"), MinTableBytes: c.Int64("min-table-bytes"),
		Iterations: c.Int("iterations"), Restarts: c.Int("restarts"), Perturb: c.Int("perturb"), Anneal: c.Float64("anneal"),
	}
	// A model ONNX Runtime refuses (an operator it does not know, say)
	// fails before learning, not after.
	opts.BeforeLearn = func() error {
		if err := validate.CheckLoads(path); err != nil && !errors.Is(err, ort.ErrNoRuntime) {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	return opts
}

// compressProgress shows compress's steps on stderr, with the learner's
// progress bar while a table learns.
func compressProgress(stderr io.Writer) func(compress.Event) {
	var lp *learnProgress
	endLearn := func() {
		if lp != nil {
			lp.done()
			lp = nil
		}
	}
	return func(ev compress.Event) {
		switch ev.Phase {
		case "learn":
			if ev.Learn == nil {
				fmt.Fprintf(stderr, "compress: %s: learning codes\n", ev.Table)
				lp = newLearnProgress(stderr, "compress")
				return
			}
			lp.update(*ev.Learn)
		case "candidate":
			endLearn()
			fmt.Fprintf(stderr, "compress: %s: candidate seed %d: output divergence %.5f\n", ev.Table, ev.Candidate.Seed, ev.Candidate.Score)
		case "cached":
			fmt.Fprintf(stderr, "compress: %s: codes reused from --codes-dir\n", ev.Table)
		case "rewrite":
			endLearn()
			fmt.Fprintf(stderr, "compress: %s: rewriting\n", ev.Table)
		case "skip":
			fmt.Fprintf(stderr, "compress: %s: left alone\n", ev.Table)
		}
	}
}

func printCompress(w io.Writer, rep *compress.Report) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSHAPE\tCODES\tBYTES BEFORE\tCODES+BOOK+AUX\tRATIO\tREL SQ ERR\tWEIGHTED\tREADOUT\tLAYOUT\tNOTE")
	for _, t := range rep.Tables {
		shape := fmt.Sprintf("[%d, %d] %s", t.Shape[0], t.Shape[1], t.DType)
		if t.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%s\t-\t-\t-\t-\t-\t-\t-\t-\tleft alone: %s\n", t.Name, shape, t.Skipped)
			continue
		}
		r := t.Rewrite
		after := r.CodesBytes + r.CodebookBytes + r.AuxBytes
		note := ""
		if t.Calibrated {
			note = fmt.Sprintf("calibrated (%d rows read)", t.RowsRead)
		}
		if t.Cached {
			note += " cached"
		}
		layout := string(r.Layout)
		if r.Bags > 0 {
			layout += fmt.Sprintf(" (%d bag)", r.Bags)
		}
		readout := "-"
		if t.MetricRelSqErr != nil {
			readout = fmt.Sprintf("%.4f", *t.MetricRelSqErr)
		}
		fmt.Fprintf(tw, "%s\t%s\t%dx%d %s\t%d\t%d+%d+%d\t%.1fx\t%.4f\t%.4f\t%s\t%s\t%s\n", t.Name, shape, t.M, t.K, t.Method,
			r.TableBytes, r.CodesBytes, r.CodebookBytes, r.AuxBytes, float64(r.TableBytes)/float64(max(after, 1)),
			t.RelSqErr, t.WeightedRelSqErr, readout, layout, note)
	}
	tw.Flush()
	printCandidates(w, rep)
	for _, t := range rep.Tables {
		if t.Metric != "" {
			fmt.Fprintf(w, "%s: learned in %s\n", t.Name, t.Metric)
		}
		if t.Rewrite != nil {
			for _, n := range t.Rewrite.Notes {
				fmt.Fprintf(w, "%s: %s\n", t.Name, n)
			}
		}
	}
}
