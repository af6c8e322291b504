package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/fidelity"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

func calibrationFlags() []cli.Flag {
	return append([]cli.Flag{
		&cli.StringSliceFlag{Name: "calibration", Usage: "sample inputs: `FILE.npy` of ids, NAME=FILE.npy for a named input in any dtype it holds exactly, or FILE.npz of them all by name (repeatable); inputs not given are made by role (masks of ones, positions, ...); rows are weighted by how often they are read"},
		&cli.IntFlag{Name: "candidates", Usage: "learn `N` sets of codes per table (seeds --seed, --seed+1, ...) and keep the one whose model's outputs on held-back inputs are closest to the original's"},
	}, selfCalibrateFlags()...)
}

// selfCalibrateFlags are compress's and sweep's flags for sampling
// calibration from a decoder LM.
func selfCalibrateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "self-calibrate", Usage: "for a model that predicts the ids it reads (a decoder LM): sample `N` sequences from it in ONNX Runtime (temperature 1, --seed) and count the rows they read too"},
		&cli.IntFlag{Name: "self-calibrate-len", Value: calibrate.DefaultSampleLen, Usage: "length of the sampled sequences, start token included (a model whose ids input is fixed at n ids a sequence: n)"},
		&cli.Int64Flag{Name: "bos", Value: -1, Usage: "start token of sampled sequences (default: the model metadata's bos_token_id, else 1, Llama/SentencePiece's)"},
	}
}

// heldBack is how many sampled sequences are held back for choosing among
// candidates: a quarter of those counted, 8 to 64.
func heldBack(n int) int { return min(max(n/4, 8), 64) }

// setupCalibration counts rows on --calibration inputs and on sequences
// sampled with --self-calibrate, and with --candidates sets up the score
// on inputs the counts leave out. With holdBack (no held-out --inputs) the
// last fifth of the calibration inputs is held back for the fidelity
// figure and returned; nil when there is none to hold back. The returned
// close releases the runtime.
func setupCalibration(c *cli.Context, m *model.Model, opts *compress.Options, holdBack bool, stderr io.Writer) (func(), *fidelity.Held, error) {
	n, cands := c.Int("self-calibrate"), c.Int("candidates")
	given := givenInputs(c, "calibration", "calibration-text")
	if n < 0 || cands < 0 {
		return nil, nil, fmt.Errorf("--self-calibrate %d, --candidates %d: want 0 or more", n, cands)
	}
	if !given && n == 0 {
		if cands > 1 {
			return nil, nil, errors.New("--candidates chooses by the model's outputs on held-back inputs: give --calibration or --self-calibrate")
		}
		return func() {}, nil, nil
	}
	rt, err := openRuntime("compress")
	if err != nil {
		return nil, nil, err
	}
	fail := func(err error) (func(), *fidelity.Held, error) {
		rt.Close()
		return nil, nil, err
	}
	var held map[string]ort.HostTensor
	var heldCal *fidelity.Held
	if given {
		r, err := roles.Detect(m)
		if err != nil {
			return fail(err)
		}
		in, err := calibrationInputs(r, inputFiles(c, "calibration", "calibration-text"), c.Command.Name, stderr)
		if err != nil {
			return fail(err)
		}
		if cands > 1 && n == 0 || holdBack {
			keep, h, err := fidelity.HoldBack(in)
			switch {
			case err != nil && cands > 1 && n == 0:
				return fail(fmt.Errorf("--candidates: %w", err))
			case err != nil:
				// Too few rows to spare: the figure is not measured.
				fmt.Fprintf(stderr, "compress: %v; fidelity will not be measured\n", err)
			default:
				in, heldCal = keep, &h
				if cands > 1 && n == 0 {
					held = h.Inputs
				}
			}
		}
		fmt.Fprintf(stderr, "compress: counting the rows calibration inputs read, in ONNX Runtime\n")
		if opts.Counts, err = calibrate.RowCounts(rt, m, opts.Tables, in); err != nil {
			return fail(err)
		}
	}
	if n > 0 {
		h := 0
		if cands > 1 {
			h = heldBack(n)
		}
		if held, err = selfCalibrate(c, rt, m, n, h, opts, stderr); err != nil {
			return fail(err)
		}
		if holdBack && heldCal == nil {
			if heldCal, err = heldSequences(c, rt, m, n, held, opts, stderr); err != nil {
				return fail(err)
			}
		}
	}
	if cands > 1 {
		if err := setupScore(rt, m, held, cands, opts, stderr); err != nil {
			return fail(err)
		}
	}
	return func() { rt.Close() }, heldCal, nil
}

// calibrationInputs reads --calibration files (and --calibration-text)
// and adds the inputs they lack by role (a mask of ones, position ids,
// ...), saying so on stderr, where the command cmd writes; an input no
// role describes must be given.
func calibrationInputs(r *roles.Roles, f inputs.Files, cmd string, stderr io.Writer) (map[string]ort.HostTensor, error) {
	in, err := readFiles(r, f, cmd, stderr)
	if err != nil {
		return nil, err
	}
	in, made, err := r.Complete(in, "--calibration")
	if err != nil {
		return nil, err
	}
	for _, x := range r.Inputs {
		if v, ok := made[x.Name]; ok {
			fmt.Fprintf(stderr, "%s: calibration input %s (%s) not given: %s\n", cmd, x.Name, x.Kind, v.Values)
		}
	}
	return in, nil
}

// lmTable is the table self-calibration samples the ids of: the first
// --table, else "" (the largest).
func lmTable(opts *compress.Options) string {
	if len(opts.Tables) > 0 {
		return opts.Tables[0]
	}
	return ""
}

// sampleLen is --self-calibrate-len when given, else 0: the default for
// the model (calibrate.LM.SampleLen).
func sampleLen(c *cli.Context) int {
	if c.IsSet("self-calibrate-len") {
		return c.Int("self-calibrate-len")
	}
	return 0
}

// selfCalibrate samples n+h sequences, counts the rows the first n read
// and returns the inputs of the other h.
func selfCalibrate(c *cli.Context, rt *ort.Runtime, m *model.Model, n, h int, opts *compress.Options, stderr io.Writer) (map[string]ort.HostTensor, error) {
	table := lmTable(opts)
	lm, err := calibrate.FindLM(m, table)
	if err != nil {
		return nil, err
	}
	l, err := lm.SampleLen(sampleLen(c))
	if err != nil {
		return nil, fmt.Errorf("%s: --self-calibrate-len: %w", m.Path, err)
	}
	passes, positions := lm.SampleCost(n+h, l)
	how := fmt.Sprintf("[%d, t], t = 1..%d", n+h, l-1)
	switch {
	case lm.Cache != nil:
		how = fmt.Sprintf("[%d, 1], one id a step with the key/value cache (each step's present outputs fed back as the past)", n+h)
	case lm.Batch > 0 || lm.SeqLen > 0:
		dims := []int64{lm.Batch, lm.SeqLen}
		for i, d := range dims {
			if d == 0 {
				dims[i] = -1 // dynamic
			}
		}
		how = fmt.Sprintf("%s (the model's fixed sizes: a sequence at a time where the batch is 1, prefixes padded to the length)", model.DimsString(dims, []string{"batch", "t"}))
	}
	fmt.Fprintf(stderr, "%s: self-calibrating: sampling %d sequences of %d ids (%d held back to choose candidates) in ONNX Runtime: %d forward passes over %s, %d positions in all\n",
		c.Command.Name, n+h, l, h, passes, how, positions)
	lp := newLearnProgress(stderr, c.Command.Name)
	start := time.Now()
	s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: n + h, Len: sampleLen(c), BOS: c.Int64("bos"), Seed: c.Int64("seed"), Table: table,
		Progress: func(step, total int) { lp.update(learner.Progress{Phase: "sample", Step: step, Total: total}) }})
	if err != nil {
		return nil, err
	}
	lp.done()
	fmt.Fprintf(stderr, "%s: sampled in %.1fs, start token %d (%s)\n", c.Command.Name, time.Since(start).Seconds(), s.BOS, s.BOSFrom)
	in, err := s.Inputs(0, n)
	if err != nil {
		return nil, err
	}
	counts, err := calibrate.RowCounts(rt, m, opts.Tables, in)
	if err != nil {
		return nil, err
	}
	opts.Counts = calibrate.AddCounts(opts.Counts, counts)
	if h == 0 {
		return nil, nil
	}
	return s.Inputs(n, n+h)
}

// heldSequences returns what a self-calibrated compress given neither
// --inputs nor --calibration measures its output on: with candidates,
// the sequences sampled after the n counted, which chose among them
// (held); else heldBack(n) sequences sampled from another stream of the
// seed, so that the n counted, and the codes, stay those of n alone.
func heldSequences(c *cli.Context, rt *ort.Runtime, m *model.Model, n int, held map[string]ort.HostTensor, opts *compress.Options, stderr io.Writer) (*fidelity.Held, error) {
	h := heldBack(n)
	if held != nil {
		return &fidelity.Held{Inputs: held, Source: fmt.Sprintf("%d sequences sampled after the %d of --self-calibrate, held back from the row weights (they also chose among the candidates)", h, n)}, nil
	}
	table := lmTable(opts)
	fmt.Fprintf(stderr, "%s: sampling %d held-out sequences from another stream of --seed, to measure the output on\n", c.Command.Name, h)
	s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: h, Len: sampleLen(c), BOS: c.Int64("bos"),
		Seed: c.Int64("seed"), Table: table, HeldOut: true})
	if err != nil {
		return nil, fmt.Errorf("held-out sequences: %w", err)
	}
	in, err := s.Inputs(0, h)
	if err != nil {
		return nil, fmt.Errorf("held-out sequences: %w", err)
	}
	return &fidelity.Held{Inputs: in, Source: fmt.Sprintf("%d held-out sequences sampled from the original (another stream of --seed, not counted in the row weights)", h)}, nil
}

// setupScore makes Compress choose among cands candidates by the outputs
// on held.
func setupScore(rt *ort.Runtime, m *model.Model, held map[string]ort.HostTensor, cands int, opts *compress.Options, stderr io.Writer) error {
	var vocab []int64
	if lm, err := calibrate.FindLM(m, ""); err == nil {
		vocab = append(vocab, lm.V)
	}
	div, err := validate.NewDivergence(rt, m.Path, held, vocab)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "compress: choosing among %d candidates per table by %s on held-back inputs\n", cands, div.Describe())
	opts.Candidates, opts.Score = cands, div.Score
	return nil
}

// printCandidates lists the candidates each table tried.
func printCandidates(w io.Writer, rep *compress.Report) {
	for _, t := range rep.Tables {
		for _, c := range t.Candidates {
			mark := ""
			if c.Chosen {
				mark = "  <- kept"
			}
			fmt.Fprintf(w, "%s: candidate seed %d: output divergence %.5f (learned in %.1fs)%s\n", t.Name, c.Seed, c.Score, c.LearnSeconds, mark)
		}
	}
}
