package multi

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Options controls Compress.
type Options struct {
	// Options are compress's, applied to every file; its Counts, Given and
	// Learned are set per file by Compress, and Candidates are not taken.
	compress.Options
	// Counts are calibration counts per file path, then per table name
	// (calibrate.RowCounts of inputs fed to that file). A shared table's
	// counts are the sum over the files that hold it.
	Counts map[string]map[string][]int64
	// Progress, when set, hears of each file's steps.
	Progress func(file string, ev compress.Event)
}

// FileReport is what Compress did to one file.
type FileReport struct {
	Path   string           `json:"path"`
	Report *compress.Report `json:"report"`
	// Unchanged says why the file is written as it was: it has no
	// embedding table, or every table was left alone; "" when rewritten.
	Unchanged string `json:"unchanged,omitempty"`
}

// Report is what Compress did.
type Report struct {
	Groups []Group      `json:"tables"`
	Files  []FileReport `json:"files"`
	// Learned counts, per group name, the times its codes were learned
	// (or read from a codes folder): once for every compressed table.
	Learned map[string]int `json:"learned"`
}

// Compress shrinks every file's tables in memory, learning each group's
// codes once, in the first file that holds it, with the summed counts of
// every holder, and rewriting the other holders with the same codes. The
// caller saves the files (Save). A file left unchanged is an error, as for
// one model.
func Compress(ctx context.Context, files []*File, groups []Group, opts Options) (*Report, error) {
	if opts.Candidates > 1 {
		return nil, errors.New("candidates scored by output are not supported for several files")
	}
	groupOf := map[Holder]int{}
	for gi, g := range groups {
		for _, h := range g.Holders {
			groupOf[h] = gi
		}
	}
	counts, err := groupCounts(groups, opts.Counts)
	if err != nil {
		return nil, err
	}
	if err := checkNamed(groups, opts.Tables); err != nil {
		return nil, err
	}
	learned := map[int]compress.Learned{}
	rep := &Report{Groups: groups, Learned: map[string]int{}}
	for _, f := range files {
		o := opts.Options
		o.Counts, o.Given = map[string][]int64{}, map[string]compress.Learned{}
		for i := range f.Inv.Tables {
			name := f.Inv.Tables[i].Name
			gi := groupOf[Holder{f.Path, name}]
			if c, ok := counts[gi]; ok {
				o.Counts[name] = c
			}
			if l, ok := learned[gi]; ok {
				o.Given[name] = l
			}
		}
		if opts.Tables != nil {
			o.Tables = fileTables(f, groups, groupOf, opts.Tables)
		}
		o.Learned = func(table string, l compress.Learned) {
			gi := groupOf[Holder{f.Path, table}]
			learned[gi] = l
			rep.Learned[groups[gi].Name]++
		}
		path := f.Path
		if opts.Progress != nil {
			o.Progress = func(ev compress.Event) { opts.Progress(path, ev) }
		}
		fr, err := compressFile(ctx, f, o)
		if err != nil {
			return nil, err
		}
		rep.Files = append(rep.Files, fr)
	}
	if !slices.ContainsFunc(rep.Files, func(f FileReport) bool { return f.Unchanged == "" }) {
		return rep, fmt.Errorf("%w: no file's tables were compressed", compress.ErrNothingCompressed)
	}
	return rep, nil
}

// compressFile compresses one file; a file with no table, or whose tables
// were all left alone, is reported unchanged (it is written as it was), not
// an error: another file of the model may hold what shrinks.
func compressFile(ctx context.Context, f *File, o compress.Options) (FileReport, error) {
	fr := FileReport{Path: f.Path}
	if len(f.Inv.Tables) == 0 || o.Tables != nil && len(o.Tables) == 0 {
		fr.Unchanged, fr.Report = "no embedding table (or none of those named)", &compress.Report{}
		return fr, nil
	}
	r, err := compress.Compress(ctx, f.Model, o)
	if errors.Is(err, compress.ErrNothingCompressed) {
		fr.Unchanged, fr.Report = "every table left alone", r
		return fr, nil
	}
	fr.Report = r
	return fr, err
}

// groupCounts sums each group's counts over its holders; a count for a
// table no file holds is an error.
func groupCounts(groups []Group, byFile map[string]map[string][]int64) (map[int][]int64, error) {
	out := map[int][]int64{}
	used := 0
	for gi, g := range groups {
		for _, h := range g.Holders {
			c, ok := byFile[h.File][h.Table]
			if !ok {
				continue
			}
			used++
			sum := out[gi]
			if sum == nil {
				sum = make([]int64, len(c))
			}
			if len(c) != len(sum) {
				return nil, fmt.Errorf("%s: table %q: %d row counts, want %d", h.File, h.Table, len(c), len(sum))
			}
			for i, v := range c {
				sum[i] += v
			}
			out[gi] = sum
		}
	}
	total := 0
	for _, m := range byFile {
		total += len(m)
	}
	if used != total {
		return nil, errors.New("calibration counts given for a table that is not among the files' tables")
	}
	return out, nil
}

// OutputPath is where a file's output goes in dir: its own name.
func OutputPath(dir, file string) string { return filepath.Join(dir, filepath.Base(file)) }

// Save writes every file to dir under its own name (external data beside
// each, as save says), all or none: every file is written and checked
// (save.Check) before any is renamed into place.
func Save(ctx context.Context, files []*File, dir string, save model.SaveOptions) error {
	if save.DataFile != "" && len(files) > 1 {
		return fmt.Errorf("%s: one data file name for %d models: leave it to each (NAME.onnx.data)", dir, len(files))
	}
	var items []model.SaveItem
	for _, f := range files {
		items = append(items, model.SaveItem{Model: f.Model, Path: OutputPath(dir, f.Path), Opts: save})
	}
	return model.SaveAll(ctx, items)
}

// FolderBytes is the bytes of the files' models and their data files.
func FolderBytes(paths []string) (int64, error) {
	var n int64
	for _, p := range slices.Clip(paths) {
		b, err := model.FilesBytes(p)
		if err != nil {
			return 0, err
		}
		n += b
	}
	return n, nil
}

// fileTables are the file's names of the named tables: a name is a table's
// name in any file, and names every copy of it.
func fileTables(f *File, groups []Group, groupOf map[Holder]int, named []string) []string {
	out := []string{}
	for i := range f.Inv.Tables {
		name := f.Inv.Tables[i].Name
		g := groups[groupOf[Holder{f.Path, name}]]
		if slices.ContainsFunc(g.Holders, func(h Holder) bool { return slices.Contains(named, h.Table) }) {
			out = append(out, name)
		}
	}
	return out
}

// checkNamed refuses a named table that no file holds.
func checkNamed(groups []Group, named []string) error {
	for _, n := range named {
		found := false
		for _, g := range groups {
			found = found || slices.ContainsFunc(g.Holders, func(h Holder) bool { return h.Table == n })
		}
		if !found {
			return fmt.Errorf("table %q: no file holds it", n)
		}
	}
	return nil
}
