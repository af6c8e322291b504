package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
)

// learnCommand learns compositional codes for a table given as .npy or as a
// model's embedding table, and writes codes and codebook as .npy files.
func learnCommand() *cli.Command {
	return &cli.Command{
		Name:      "learn",
		Usage:     "learn compositional codes and a codebook for an embedding table",
		ArgsUsage: "TABLE.npy (or --model MODEL.onnx)",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "M", Required: true, Usage: "codebooks (codes per row)"},
			&cli.IntFlag{Name: "K", Required: true, Usage: "codewords per codebook (2..65536)"},
			&cli.StringFlag{Name: "method", Usage: "\"\" or aq (default additive quantiser), dccl (the paper's network)"},
			&cli.StringFlag{Name: "weights", Usage: "`.npy` [V] of non-negative row weights (integer counts or floats)"},
			&cli.Int64Flag{Name: "seed", Value: 1, Usage: "random seed (same seed, same output)"},
			&cli.IntFlag{Name: "threads", Usage: "threads (0: all CPUs; the output does not depend on it)"},
			&cli.IntFlag{Name: "epochs", Usage: "dccl maximum epochs (0: the paper's 200)"},
			&cli.DurationFlag{Name: "time-limit", Aliases: []string{"time-budget"}, Usage: "return the best codes found within this `DURATION`, aq fitting its default rounds to it (0: no limit)"},
			&cli.Float64Flag{Name: "target-error", Usage: "stop as soon as the (weighted) relative squared error reaches this (0: none)"},
			&cli.StringFlag{Name: "codebook-dtype", Value: learner.DTypeFloat32, Usage: "store the codebook as float32, float16 or bfloat16: the last step re-encodes against the rounded codebook"},
			&cli.StringFlag{Name: "codes", Required: true, Usage: "output `.npy` of codes [V, M] (uint8 when K <= 256, else uint16)"},
			&cli.StringFlag{Name: "codebook", Required: true, Usage: "output `.npy` of the float32 codebook [M*K, D]"},
			&cli.StringFlag{Name: "model", Usage: "read the table from `MODEL.onnx` instead of TABLE.npy"},
			&cli.StringFlag{Name: "table", Usage: "table `NAME` in --model (default: the largest)"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		}, searchFlags()...),
		Action: runLearn,
	}
}

func runLearn(c *cli.Context) error {
	src := compress.Source{Model: c.String("model"), Table: c.String("table"), Weights: c.String("weights")}
	switch {
	case src.Model != "" && c.NArg() != 0:
		return inputError(fmt.Errorf("learn: give either TABLE.npy or --model, not both"))
	case src.Model == "" && c.NArg() != 1:
		return inputError(fmt.Errorf("learn: expected one argument, TABLE.npy (or --model MODEL.onnx); got %d", c.NArg()))
	case src.Model == "":
		src.NPY = c.Args().First()
	}
	if c.Int("threads") < 0 {
		return inputError(fmt.Errorf("--threads must be >= 0, got %d", c.Int("threads")))
	}
	prog := newLearnProgress(c.App.ErrWriter, c.Command.Name)
	cfg := learner.Config{
		M: c.Int("M"), K: c.Int("K"), Method: c.String("method"), Seed: c.Int64("seed"),
		Threads: c.Int("threads"), Iterations: c.Int("iterations"),
		Restarts: c.Int("restarts"), Perturb: c.Int("perturb"), Anneal: c.Float64("anneal"),
		Epochs: c.Int("epochs"), TimeLimit: c.Duration("time-limit"), TargetError: c.Float64("target-error"),
		CodebookDType: c.String("codebook-dtype"),
		Progress:      prog.update,
	}
	rep, err := compress.LearnFile(c.Context, src, cfg, c.String("codes"), c.String("codebook"))
	prog.done()
	if err != nil {
		if errors.Is(err, c.Context.Err()) && c.Context.Err() != nil {
			return err
		}
		return inputError(err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, rep)
	}
	printLearnReport(c.App.Writer, rep)
	return nil
}

func printLearnReport(w io.Writer, r *compress.LearnReport) {
	src := r.Input
	if r.Table != "" {
		src += " table " + r.Table
	}
	fmt.Fprintf(w, "%s: [%d, %d], method %s, M=%d K=%d, seed %d\n", src, r.V, r.D, r.Method, r.M, r.K, r.Seed)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if r.Weighted {
		fmt.Fprintf(tw, "relative squared error (weighted)\t%.4f\n", r.RelSqErr)
		fmt.Fprintf(tw, "relative squared error (unweighted)\t%.4f\n", r.RelSqErrUnweighted)
	} else {
		fmt.Fprintf(tw, "relative squared error\t%.4f\n", r.RelSqErr)
	}
	fmt.Fprintf(tw, "mean Euclidean distance\t%.4f\n", r.MeanDist)
	fmt.Fprintf(tw, "bits per row\t%d\n", r.BitsPerRow)
	fmt.Fprintf(tw, "compression ratio\t%.1fx (codes %d B + codebook %d B)\n", r.Ratio, r.CodeBytes, r.CodebookBytes)
	fmt.Fprintf(tw, "seconds\t%.1f\n", r.Seconds)
	fmt.Fprintf(tw, "stopped\t%s\n", r.Stopped)
	if r.CodebookDType != "" && r.CodebookDType != learner.DTypeFloat32 {
		fmt.Fprintf(tw, "codebook\t%s\n", r.CodebookDType)
	}
	tw.Flush()
	fmt.Fprintf(w, "wrote %s and %s\n", r.Codes, r.Codebook)
}

// learnProgress shows learner progress on stderr: a bar with the current
// loss on a terminal, a plain line per phase otherwise.
type learnProgress struct {
	w     io.Writer
	cmd   string // the command the lines are of
	tty   bool
	phase string
	last  learner.Progress
	bar   *progressbar.ProgressBar
	start time.Time
}

func newLearnProgress(w io.Writer, cmd string) *learnProgress {
	p := &learnProgress{w: w, cmd: cmd, start: time.Now()}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

// phaseLabel names the phases shown to users; dccl's per-epoch validation
// events drive its bar, its intra-epoch loss only updates the description.
func phaseLabel(ph string) string {
	switch ph {
	case "init":
		return "initialise (residual k-means)"
	case "refine":
		return "refine (least squares + ICM)"
	case "validate", "train":
		return "train (dccl)"
	case "sample":
		return "sample (ONNX Runtime forward passes)"
	}
	return ph
}

func (p *learnProgress) update(ev learner.Progress) {
	label := phaseLabel(ev.Phase)
	if ev.Phase == "train" {
		// Running training loss within an epoch.
		if p.bar != nil {
			p.bar.Describe(fmt.Sprintf("%s  train loss %.4f", label, ev.Loss))
		}
		return
	}
	if label != p.phase {
		p.finishPhase()
		p.phase = label
		if p.tty {
			p.bar = progressbar.NewOptions(max(ev.Total, 1), progressbar.OptionSetWriter(p.w),
				progressbar.OptionShowCount(), progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
		} else {
			fmt.Fprintf(p.w, "%s: %s (%d steps)\n", p.cmd, label, ev.Total)
		}
	}
	if p.bar != nil && ev.Total > 0 && ev.Total != p.last.Total {
		// A time limit re-plans the rounds after each one.
		p.bar.ChangeMax(ev.Total)
	}
	p.last = ev
	if p.bar != nil && ev.Phase == "sample" {
		p.bar.Describe(label)
	} else if p.bar != nil {
		p.bar.Describe(fmt.Sprintf("%s  error %.4f", label, ev.Loss))
		_ = p.bar.Set(ev.Step)
	}
}

func (p *learnProgress) finishPhase() {
	if p.phase == "" {
		return
	}
	if p.bar != nil {
		_ = p.bar.Finish()
		p.bar = nil
	}
	if p.last.Phase == "sample" {
		fmt.Fprintf(p.w, "%s: %s done at step %d/%d (%.1fs)\n", p.cmd, p.phase, p.last.Step, p.last.Total, time.Since(p.start).Seconds())
		return
	}
	fmt.Fprintf(p.w, "%s: %s done at step %d/%d, error %.4f (%.1fs)\n", p.cmd, p.phase, p.last.Step, p.last.Total, p.last.Loss, time.Since(p.start).Seconds())
}

func (p *learnProgress) done() {
	p.finishPhase()
	p.phase = ""
}

// searchFlags are the aq search's flags, on learn, compress and sweep.
func searchFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "iterations", Usage: "aq refinement rounds (0: default, 128 for tables of up to 6.5 million values, fewer beyond, at least 28)"},
		&cli.IntFlag{Name: "restarts", Usage: "aq perturbation restarts per row and round (0: default, 2 up to 6.5 million values, up to 8 beyond; negative: none)"},
		&cli.IntFlag{Name: "perturb", Usage: "aq codes re-drawn per restart (0: default, max(2, (M+2)/5))"},
		&cli.Float64Flag{Name: "anneal", Usage: "aq codebook noise scale after each refit but the last (0: default, 0.45 falling to 0.3 for large tables; negative: off)"},
	}
}
