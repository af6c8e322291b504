package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/multi"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// isMulti says the arguments are a model of several files: a folder, or
// more than one file.
func isMulti(c *cli.Context) bool {
	if c.NArg() > 1 {
		return true
	}
	st, err := os.Stat(c.Args().First())
	return err == nil && st.IsDir()
}

// loadMulti loads the files the arguments name, and their table groups.
func loadMulti(args []string) ([]*multi.File, []multi.Group, error) {
	paths, err := multi.Paths(args)
	if err != nil {
		return nil, nil, err
	}
	files, err := multi.Load(paths)
	if err != nil {
		return nil, nil, err
	}
	groups, err := multi.Groups(files)
	return files, groups, err
}

func runInspectMulti(c *cli.Context) error {
	files, groups, err := loadMulti(c.Args().Slice())
	if err != nil {
		return inputError(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			Files  []string      `json:"files"`
			Tables []multi.Group `json:"tables"`
		}{paths, groups})
	}
	printGroups(c.App.Writer, paths, groups)
	return nil
}

// printGroups lists each table once, with the files that hold a bitwise
// copy of it.
func printGroups(w io.Writer, paths []string, groups []multi.Group) {
	shared := 0
	for _, g := range groups {
		if g.Shared() {
			shared++
		}
	}
	fmt.Fprintf(w, "%d files, %d embedding table(s), %d held by several files (bitwise equal)\n", len(paths), len(groups), shared)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSHAPE\tDTYPE\tBYTES\tFILES")
	for _, g := range groups {
		var hs []string
		for _, h := range g.Holders {
			s := filepath.Base(h.File)
			if h.Table != g.Name {
				s += " (as " + h.Table + ")"
			}
			hs = append(hs, s)
		}
		fmt.Fprintf(tw, "%s\t[%d, %d]\t%s\t%d\t%s\n", g.Name, g.Shape[0], g.Shape[1], g.DType, g.Bytes, strings.Join(hs, ", "))
	}
	tw.Flush()
}

// multiRefused are compress flags a job of several files does not take.
var multiRefused = []string{"inputs", "inputs-text", "calibration-text", "self-calibrate", "candidates", "min-agreement", "min-cosine", "data-file"}

func runCompressMulti(c *cli.Context) error {
	for _, f := range multiRefused {
		if c.IsSet(f) {
			return inputError(fmt.Errorf("compress: --%s is not taken for a model of several files (validate the output folder with validate DIR DIR)", f))
		}
	}
	start := time.Now()
	save, err := saveOptions(c)
	if err != nil {
		return err
	}
	files, groups, err := loadMulti(c.Args().Slice())
	if err != nil {
		return inputError(err)
	}
	out := c.String("output")
	if st, err := os.Stat(out); err != nil || !st.IsDir() {
		return inputError(fmt.Errorf("%s: -o names the output folder of a model of several files, and it must exist", out))
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
		if err := f.Model.CheckOutput(multi.OutputPath(out, f.Path), save); err != nil {
			return inputError(err)
		}
	}
	opts := multi.Options{Options: compressOptions(c, paths[0])}
	// Every file, not the first alone, must load in ONNX Runtime before
	// any learning.
	opts.BeforeLearn = nil
	for _, p := range paths {
		if err := validate.CheckLoads(p); err != nil && !errors.Is(err, ort.ErrNoRuntime) {
			return inputError(fmt.Errorf("%s: %w", p, err))
		}
	}
	if opts.Counts, err = multiCounts(c, files); err != nil {
		return inputError(err)
	}
	progress := compressProgress(c.App.ErrWriter)
	opts.Progress = func(file string, ev compress.Event) {
		if ev.Phase == "given" {
			fmt.Fprintf(c.App.ErrWriter, "compress: %s: %s: codes learned for the same table in an earlier file\n", filepath.Base(file), ev.Table)
			return
		}
		progress(ev)
	}
	rep, err := multi.Compress(c.Context, files, groups, opts)
	if err != nil {
		return inputError(err)
	}
	for i, f := range files {
		if rep.Files[i].Unchanged != "" {
			continue // written as it was: nothing to record
		}
		if err := compress.RecordProvenance(f.Model, f.Path, toolVersion(), rep.Files[i].Report, opts.Options); err != nil {
			return inputError(err)
		}
	}
	oc := newOutputCheck(c.Context, c.App.ErrWriter)
	save.Check = oc.check
	if err := multi.Save(c.Context, files, out, save); err != nil {
		return inputError(err)
	}
	oc.report()
	return printMultiCompress(c, rep, paths, out, time.Since(start))
}

// multiCounts counts the rows that --calibration FILE:SPEC inputs read, per
// file: FILE is a model file's name, SPEC what --calibration takes for
// one model (IDS.npy, NAME=FILE.npy, FILE.npz).
func multiCounts(c *cli.Context, files []*multi.File) (map[string]map[string][]int64, error) {
	specs := map[string][]string{}
	for _, s := range c.StringSlice("calibration") {
		name, spec, ok := strings.Cut(s, ":")
		if !ok || !strings.HasSuffix(name, ".onnx") {
			return nil, fmt.Errorf("--calibration %q: for a model of several files, want FILE.onnx:SPEC (SPEC as for one model: IDS.npy, NAME=FILE.npy or FILE.npz)", s)
		}
		specs[name] = append(specs[name], spec)
	}
	if len(specs) == 0 {
		return nil, nil
	}
	rt, err := openRuntime("compress")
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	out := map[string]map[string][]int64{}
	for _, f := range files {
		s, ok := specs[filepath.Base(f.Path)]
		if !ok {
			continue
		}
		delete(specs, filepath.Base(f.Path))
		r, err := roles.Detect(f.Model)
		if err != nil {
			return nil, err
		}
		in, err := calibrationInputs(r, inputs.Files{Specs: s}, c.Command.Name, c.App.ErrWriter)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if out[f.Path], err = calibrate.RowCounts(rt, f.Model, nil, in); err != nil {
			return nil, err
		}
	}
	for name := range specs {
		return nil, fmt.Errorf("--calibration %s: no such model file among the inputs", name)
	}
	return out, nil
}

func printMultiCompress(c *cli.Context, rep *multi.Report, paths []string, out string, took time.Duration) error {
	var outs []string
	for _, p := range paths {
		outs = append(outs, multi.OutputPath(out, p))
	}
	before, err := multi.FolderBytes(paths)
	if err != nil {
		return inputError(err)
	}
	after, err := multi.FolderBytes(outs)
	if err != nil {
		return inputError(err)
	}
	if c.Bool("json") {
		return writeJSON(c.App.Writer, struct {
			*multi.Report
			Output      string  `json:"output"`
			BytesBefore int64   `json:"files_bytes_before"`
			BytesAfter  int64   `json:"files_bytes_after"`
			Seconds     float64 `json:"seconds"`
		}{rep, out, before, after, took.Seconds()})
	}
	w := c.App.Writer
	printGroups(w, paths, rep.Groups)
	for _, g := range rep.Groups {
		if n := rep.Learned[g.Name]; n > 0 {
			fmt.Fprintf(w, "%s: learned %d time(s)%s, used by %d file(s)\n", g.Name, n, learnedFigures(rep, g), len(g.Holders))
		}
	}
	for i, f := range rep.Files {
		b, _ := multi.FolderBytes([]string{paths[i]})
		a, _ := multi.FolderBytes([]string{outs[i]})
		note := ""
		if f.Unchanged != "" {
			note = ", unchanged: " + f.Unchanged
		}
		fmt.Fprintf(w, "%s: %d -> %d bytes (%.1fx smaller%s)\n", filepath.Base(f.Path), b, a, float64(b)/float64(max(a, 1)), note)
	}
	fmt.Fprintf(w, "model files: %d -> %d bytes (%.1fx smaller), %.1fs; wrote %d files in %s\n",
		before, after, float64(before)/float64(max(after, 1)), took.Seconds(), len(outs), out)
	return nil
}

// runValidateMulti validates every file of the original folder against the
// file of the same name in the new one.
func runValidateMulti(c *cli.Context, origDir, newDir string) error {
	if c.IsSet("inputs") {
		return inputError(errors.New("validate: --inputs is not taken for folders (inputs are generated by role for each file)"))
	}
	opts, err := compareOptions(c)
	if err != nil {
		return inputError(err)
	}
	files, _, err := loadMulti([]string{origDir})
	if err != nil {
		return inputError(err)
	}
	rt, err := openRuntime("validate")
	if err != nil {
		return err
	}
	defer rt.Close()
	var failed []string
	for _, f := range files {
		o := opts
		if o.Roles, err = roles.Detect(f.Model); err != nil {
			return inputError(err)
		}
		rewritten := multi.OutputPath(newDir, f.Path)
		rep, err := validate.CompareModels(rt, f.Path, rewritten, o)
		if err != nil {
			return inputError(err)
		}
		fmt.Fprintf(c.App.Writer, "== %s vs %s\n", f.Path, rewritten)
		printComparison(c.App.Writer, rep)
		if !rep.Pass {
			failed = append(failed, filepath.Base(f.Path))
		}
	}
	if len(failed) > 0 {
		return cli.Exit(fmt.Sprintf("validation failed: %s outside tolerance", strings.Join(failed, ", ")), exitOutside)
	}
	return nil
}

// learnedFigures are the codes and errors of a group's table where it was
// learned.
func learnedFigures(rep *multi.Report, g multi.Group) string {
	for _, f := range rep.Files {
		for _, t := range f.Report.Tables {
			if t.Name == g.Holders[0].Table && f.Path == g.Holders[0].File && t.Skipped == "" && !t.Given {
				return fmt.Sprintf(" in %s (%dx%d %s, rel sq err %.4f, weighted %.4f)", filepath.Base(f.Path), t.M, t.K, t.Method, t.RelSqErr, t.WeightedRelSqErr)
			}
		}
	}
	return ""
}
