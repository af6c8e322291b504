package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/fidelity"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/sweep"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// compressGate is what compress measures its output by: validate's gate
// and the held-out inputs, and what the flags ask of the figure.
type compressGate struct {
	compare validate.CompareOptions
	// held is nil when there is nothing to measure on.
	held *fidelity.Held
	// gating: a gate flag was given, so a figure below the gate exits 1;
	// choosing: --min-agreement or --min-cosine without -M/-K, so the
	// smallest setting of the sweep grid that meets the gate is chosen.
	gating, choosing bool
}

// newCompressGate reads the gate flags and the held-out --inputs.
func newCompressGate(c *cli.Context, m *model.Model) (*compressGate, error) {
	compare, err := gateOptions(c)
	if err != nil {
		return nil, err
	}
	g := &compressGate{compare: compare}
	for _, f := range []string{"min-agreement", "min-cosine", "atol", "rtol"} {
		g.gating = g.gating || c.IsSet(f)
	}
	g.choosing = (c.IsSet("min-agreement") || c.IsSet("min-cosine")) && !c.IsSet("M") && !c.IsSet("K")
	switch {
	case g.choosing && c.IsSet("ratio"):
		return nil, errors.New("--ratio and --min-agreement/--min-cosine both choose the codes: give one, or -M/-K to gate codes you choose")
	case g.choosing && len(c.StringSlice("table")) > 1:
		return nil, fmt.Errorf("--min-agreement/--min-cosine choose the codes of one table: --table names %d", len(c.StringSlice("table")))
	}
	if g.compare.Roles, err = roles.Detect(m); err != nil {
		return nil, err
	}
	// Only inputs the held ones lack are generated, from the same seed.
	g.compare.Seed = uint64(c.Int64("seed"))
	if givenInputs(c, "inputs", "inputs-text") {
		in, err := readInputs(c, g.compare.Roles, "inputs", "inputs-text", c.App.ErrWriter)
		if err != nil {
			return nil, err
		}
		source := "given --inputs"
		if c.String("inputs-text") != "" {
			source = "given --inputs-text"
		}
		g.held = &fidelity.Held{Inputs: in, Source: source}
	}
	return g, nil
}

// needHeld refuses a gate with no inputs to measure on, before learning.
func (g *compressGate) needHeld() error {
	if g.gating && g.held == nil {
		return errors.New("the gate (--min-agreement, --min-cosine, --atol, --rtol) is measured on held-out inputs: give --inputs NAME=FILE.npy, or --calibration, whose last fifth is then held back")
	}
	return nil
}

// notMeasured is the line compress prints when it has no held-out inputs.
const notMeasured = "fidelity: not measured (no held-out inputs); give --inputs NAME=FILE.npy (held-out inputs like the calibration's), or --calibration, whose last fifth is then held back, or --self-calibrate (a decoder LM), or run embshrink validate"

// choose runs the sweep over its default grid for the table and sets
// opts to the smallest setting that meets the gate. Codes go through
// --codes-dir, or a temporary folder that done removes, so compress then
// reads them from there. A grid where no setting passes returns the choice
// and an exit-1 error naming the best setting.
func (g *compressGate) choose(ctx context.Context, path string, opts *compress.Options, stderr io.Writer) (*fidelity.Choice, func(), error) {
	done := func() {}
	if opts.CodesDir == "" {
		dir, err := os.MkdirTemp("", "embshrink-codes-")
		if err != nil {
			return nil, done, err
		}
		opts.CodesDir, done = dir, func() { os.RemoveAll(dir) }
	}
	rt, err := openRuntime("compress")
	if err != nil {
		return nil, done, err
	}
	defer rt.Close()
	so := sweepOptionsFor(*opts, g.compare, g.held)
	if len(opts.Tables) == 1 {
		so.Table = opts.Tables[0]
	}
	prog := newSweepProgress(stderr)
	so.Progress = prog.event
	fmt.Fprintf(stderr, "compress: choosing the codes: the sweep grid, each setting validated on %s\n", g.held.Source)
	ch, err := fidelity.Choose(ctx, rt, path, so)
	prog.close()
	if err != nil {
		return nil, done, inputError(err)
	}
	if ch.Chosen < 0 {
		b := ch.Points[ch.Best]
		return ch, done, cli.Exit(fmt.Sprintf("no setting of the sweep grid for table %s meets the gate on %s: the best, %s, %d bytes (%.1fx), has %s %.4f and cosine %.6f; nothing written",
			ch.Table, g.held.Source, b.Setting, b.Bytes, b.Ratio, ch.FidelityName, b.Fidelity, b.Cosine), exitOutside)
	}
	p := ch.Points[ch.Chosen]
	opts.Tables, opts.M, opts.K = []string{ch.Table}, p.M, p.K
	return ch, done, nil
}

// sweepOptionsFor are the sweep's options for compress's settings.
func sweepOptionsFor(opts compress.Options, compare validate.CompareOptions, held *fidelity.Held) sweep.Options {
	opts.Progress, opts.Tables, opts.M, opts.K = nil, nil, 0, 0
	compare.Inputs = held.Inputs
	return sweep.Options{Compress: opts, Compare: compare, Version: toolVersion()}
}

// measure compares the written model with the original on the held-out
// inputs; nil when there are none.
func (g *compressGate) measure(original, written string) (*fidelity.Figure, error) {
	if g.held == nil {
		return nil, nil
	}
	rt, err := openRuntime("compress")
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	return fidelity.Measure(rt, original, written, *g.held, g.compare)
}

// verdict is the exit-1 error when the gate was asked for and the figure
// is below it; nil otherwise.
func (g *compressGate) verdict(fig *fidelity.Figure, out string) error {
	if fig == nil || fig.Pass || !g.gating {
		return nil
	}
	var failed []string
	for _, o := range fig.Compare.Outputs {
		if !o.Pass {
			failed = append(failed, o.Name)
		}
	}
	return cli.Exit(fmt.Sprintf("fidelity below the gate: output(s) %s fail on %s; %s was written", strings.Join(failed, ", "), fig.Inputs, out), exitOutside)
}

// printChoice says which setting compress chose and what the smaller ones
// of the grid measured.
func printChoice(w io.Writer, ch *fidelity.Choice) {
	if ch == nil || ch.Chosen < 0 {
		return
	}
	p := ch.Points[ch.Chosen]
	var smaller []string
	for _, q := range ch.Points {
		if q.Bytes < p.Bytes {
			smaller = append(smaller, fmt.Sprintf("%s %.4f cosine %.6f", q.Setting, q.Fidelity, q.Cosine))
		}
	}
	fmt.Fprintf(w, "chose %s for table %s: the smallest setting of the sweep grid that meets the gate, %d bytes (%.1fx), %s %.4f, cosine %.6f",
		p.Setting, ch.Table, p.Bytes, p.Ratio, ch.FidelityName, p.Fidelity, p.Cosine)
	if len(smaller) > 0 {
		fmt.Fprintf(w, " (smaller, failing: %s)", strings.Join(smaller, ", "))
	}
	fmt.Fprintln(w)
}

// printFidelity prints the figure, one line per output, or says it was not
// measured.
func printFidelity(w io.Writer, fig *fidelity.Figure) {
	if fig == nil {
		fmt.Fprintln(w, notMeasured)
		return
	}
	fmt.Fprintf(w, "fidelity on %s: %s (gate: %s)\n", fig.Inputs, passFail(fig.Pass), sweep.GateText(fig.Compare))
	for _, o := range fig.Compare.Outputs {
		agree := "agreement -"
		if o.Agreement != nil {
			agree = fmt.Sprintf("agreement %.2f%% (%s, %d)", 100**o.Agreement, o.DecisionKind, o.Decisions)
			if o.KL != nil {
				agree += fmt.Sprintf(", KL %.3g", *o.KL)
			}
		}
		fmt.Fprintf(w, "  %s: %s, cosine %.6f, max abs diff %.3g (tolerance %.3g): %s\n",
			o.Name, agree, o.Cosine, o.MaxAbsDiff, o.Tolerance, passFail(o.Pass))
	}
	if note := notRealNote(fig.Compare.NotRealInputs); note != "" {
		fmt.Fprintln(w, note)
	}
}

func passFail(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}
