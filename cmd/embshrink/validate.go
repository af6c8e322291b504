package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

func validateCommand() *cli.Command {
	return &cli.Command{
		Name:      "validate",
		Usage:     "run a model and its rewrite on the same inputs in ONNX Runtime and compare their outputs",
		ArgsUsage: "ORIGINAL.onnx REWRITTEN.onnx | ORIGINAL_DIR NEW_DIR",
		Description: "Inputs not given with --inputs (NAME=FILE.npy, or one FILE.npz of them all by name) are generated\n" +
			"by their role, from --seed: ids uniform over the rows of the table they index, position ids\n" +
			"0..n-1, attention masks of ones, token types of zeros, bag offsets partitioning their ids, an\n" +
			"empty past cache (--dim past_sequence_length=0), use_cache_branch false; an input no role\n" +
			"describes gets made-up values (floats standard normal), which the report marks not real\n" +
			"data. A model whose batch is fixed at 1 runs --samples samples one at a time. An output passes when\n" +
			"max|a-b| <= atol + rtol*max|original|, or, for a classifier-like output (argmax over a last\n" +
			"dimension above 1, or a [..., 1] output in [0, 1] thresholded at 0.5, or integer outputs),\n" +
			"when at least --min-agreement of its decisions agree and its cosine to the original is at\n" +
			"least --min-cosine. Exit 0 when every output passes, 1 when one does not, 2 on usage or\n" +
			"input errors.",
		Flags: append([]cli.Flag{
			inputsFlag(),
			&cli.IntFlag{Name: "samples", Value: validate.DefaultSamples, Usage: "batch size of generated inputs"},
			dimFlag(),
			&cli.Uint64Flag{Name: "seed", Usage: "seed of the generated inputs"},
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		}, append(gateFlags(), textFlags(false, true)...)...),
		Action: func(c *cli.Context) error {
			if c.NArg() != 2 {
				return inputError(fmt.Errorf("validate: expected two arguments, ORIGINAL.onnx REWRITTEN.onnx; got %d", c.NArg()))
			}
			orig, rewritten := c.Args().Get(0), c.Args().Get(1)
			if st, err := os.Stat(orig); err == nil && st.IsDir() {
				return runValidateMulti(c, orig, rewritten)
			}
			opts, err := compareOptions(c)
			if err != nil {
				return inputError(err)
			}
			m, err := model.Load(orig)
			if err != nil {
				return inputError(err)
			}
			if opts.Roles, err = roles.Detect(m); err != nil {
				return inputError(err)
			}
			if givenInputs(c, "inputs", "inputs-text") {
				if opts.Inputs, err = readInputs(c, opts.Roles, "inputs", "inputs-text", c.App.ErrWriter); err != nil {
					return inputError(err)
				}
			}
			rt, err := openRuntime("validate")
			if err != nil {
				return err
			}
			defer rt.Close()
			rep, err := validate.CompareModels(rt, orig, rewritten, opts)
			if err != nil {
				return inputError(err)
			}
			if c.Bool("json") {
				if err := writeJSON(c.App.Writer, rep); err != nil {
					return err
				}
			} else {
				printComparison(c.App.Writer, rep)
			}
			if hint := unseenRowsHint(rewritten, rep); hint != "" && !rep.Pass {
				fmt.Fprintln(c.App.ErrWriter, hint)
			}
			if !rep.Pass {
				var failed []string
				for _, o := range rep.Outputs {
					if !o.Pass {
						failed = append(failed, o.Name)
					}
				}
				return cli.Exit(fmt.Sprintf("validation failed: output(s) %s outside tolerance", strings.Join(failed, ", ")), exitOutside)
			}
			return nil
		},
	}
}

// compareOptions reads validate's flags.
func compareOptions(c *cli.Context) (validate.CompareOptions, error) {
	opts, err := gateOptions(c)
	if err != nil {
		return opts, err
	}
	opts.Samples, opts.Seed = c.Int("samples"), c.Uint64("seed")
	if opts.Samples <= 0 {
		return opts, fmt.Errorf("--samples %d: want a positive batch size", opts.Samples)
	}
	opts.Dims, err = parseDims(c)
	return opts, err
}

// dimFlag is --dim, shared by validate and sweep.
func dimFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "dim", Usage: "size of a dynamic dimension as `NAME=VALUE` (its dim_param name); repeatable; others are the batch size first, then 16"}
}

// parseDims reads --dim; nil when none is given.
func parseDims(c *cli.Context) (map[string]int64, error) {
	var dims map[string]int64
	for _, d := range c.StringSlice("dim") {
		name, val, ok := strings.Cut(d, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--dim %q: want NAME=VALUE", d)
		}
		v, err := strconv.ParseInt(val, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--dim %q: %w", d, errors.Unwrap(err))
		}
		if dims == nil {
			dims = map[string]int64{}
		}
		dims[name] = v
	}
	return dims, nil
}

// inputsFlag is validate's --inputs, which compress shares for its
// held-out inputs.
func inputsFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "inputs", Usage: "given input values as `NAME=FILE.npy` (FILE.npy for a model with one ids input, FILE.npz for all of them by name), in any dtype the input holds exactly; repeatable"}
}

// gateFlags are the flags of the validate gate, shared by validate,
// sweep and compress.
func gateFlags() []cli.Flag {
	return []cli.Flag{
		&cli.Float64Flag{Name: "rtol", Value: validate.DefaultRTol, Usage: "relative tolerance, times the original output's largest magnitude"},
		&cli.Float64Flag{Name: "atol", Value: validate.DefaultATol, Usage: "absolute tolerance"},
		&cli.Float64Flag{Name: "min-agreement", Value: validate.DefaultMinAgreement, Usage: "share of classifier decisions that must agree for an output outside the tolerance to pass; negative: tolerance alone decides"},
		&cli.Float64Flag{Name: "min-cosine", Value: validate.DefaultMinCosine, Usage: "cosine similarity an output must also reach to pass on its decisions; negative: no floor"},
	}
}

// gateOptions reads gateFlags, whose values CompareOptions takes as they
// are (0 tolerances ask for equality).
func gateOptions(c *cli.Context) (validate.CompareOptions, error) {
	opts := validate.CompareOptions{
		RTol:         c.Float64("rtol"),
		ATol:         c.Float64("atol"),
		MinAgreement: c.Float64("min-agreement"),
		MinCosine:    c.Float64("min-cosine"),
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"rtol", opts.RTol}, {"atol", opts.ATol}} {
		if f.v < 0 {
			return opts, fmt.Errorf("--%s %g: want 0 or more", f.name, f.v)
		}
	}
	if opts.MinCosine == 0 || opts.MinCosine > 1 {
		return opts, fmt.Errorf("--min-cosine %g: want a value in (0, 1], or a negative value for no floor", opts.MinCosine)
	}
	if opts.MinAgreement == 0 || opts.MinAgreement > 1 {
		return opts, fmt.Errorf("--min-agreement %g: want a share in (0, 1], or a negative value to decide on the tolerance alone", opts.MinAgreement)
	}
	return opts, nil
}

func printComparison(w io.Writer, rep *validate.CompareReport) {
	fmt.Fprintf(w, "original:  %s\nrewritten: %s\n\n", rep.Original, rep.Rewritten)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "INPUT\tDTYPE\tSHAPE\tROLE\tVALUES")
	for _, in := range rep.Inputs {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s: %s\n", in.Name, in.DType, shapeString(in.Shape), in.Role, in.Source, in.Values)
	}
	tw.Flush()
	if len(rep.Dims) > 0 {
		var s []string
		for _, d := range rep.Dims {
			name := d.Param
			if name == "" {
				name = fmt.Sprintf("%s axis %d", d.Input, d.Axis)
			}
			// Inputs sharing a named dimension list it once.
			if item := fmt.Sprintf("%s=%d (%s)", name, d.Value, d.Source); !slices.Contains(s, item) {
				s = append(s, item)
			}
		}
		fmt.Fprintf(w, "dynamic dims: %s\n", strings.Join(s, ", "))
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "OUTPUT\tSHAPE\tMAX ABS DIFF\tMAX REL DIFF\tCOSINE\tAGREEMENT\tRESULT")
	for _, o := range rep.Outputs {
		agree := "-"
		if o.Agreement != nil {
			agree = fmt.Sprintf("%.2f%% (%s, %d)", 100**o.Agreement, o.DecisionKind, o.Decisions)
			if o.KL != nil {
				agree += fmt.Sprintf(", KL %.3g", *o.KL)
			}
		}
		result := "PASS"
		if !o.Pass {
			result = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%.3g\t%.3g\t%.6f\t%s\t%s\n", o.Name, shapeString(o.Shape), o.MaxAbsDiff, o.MaxRelDiff, o.Cosine, agree, result)
	}
	tw.Flush()
	for _, o := range rep.Outputs {
		fmt.Fprintf(w, "  %s: %s\n", o.Name, o.Reason)
	}
	gate := fmt.Sprintf("max|a-b| <= %g + %g*max|original|", rep.ATol, rep.RTol)
	if rep.MinAgreement > 0 {
		gate += fmt.Sprintf(", or classifier decisions agree >= %g%%", 100*rep.MinAgreement)
		if rep.MinCosine > -1 {
			gate += fmt.Sprintf(" with cosine >= %g", rep.MinCosine)
		}
	}
	verdict := "PASS: every output passes"
	if !rep.Pass {
		verdict = "FAIL"
	}
	fmt.Fprintf(w, "gate: %s\n%s\n", gate, verdict)
	if note := notRealNote(rep.NotRealInputs); note != "" {
		fmt.Fprintln(w, note)
	}
}

// notRealNote says a result stands on made-up values for inputs no role
// describes; "" when there are none.
func notRealNote(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("note: this result stands on generated data: input(s) %s had no role to go by and were fed made-up values, not real data; give real ones with --inputs %s=FILE.npy",
		strings.Join(names, ", "), names[0])
}

func shapeString(s []int64) string {
	parts := make([]string, len(s))
	for i, d := range s {
		parts[i] = strconv.FormatInt(d, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
