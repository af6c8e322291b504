// Package multi treats a model exported as several files (an encoder and a
// decoder, as Optimum and transformers.js write encoder-decoders: each file
// with its own copy of the shared embedding table) as one job: it finds the
// tables the files share bitwise, learns each shared table's codes once
// (package compress) and rewrites every file with the same codes, then
// saves the files together, all or none (model.SaveAll).
package multi

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// File is one model file of the job.
type File struct {
	Path  string
	Model *model.Model
	Inv   *onnxrewrite.Inventory
}

// Holder is one file's copy of a table.
type Holder struct {
	File  string `json:"file"`
	Table string `json:"table"`
}

// Group is a table and every file holding a bitwise copy of it (one holder
// for a table only one file has).
type Group struct {
	// Name is the first holder's table name.
	Name    string                 `json:"name"`
	Shape   [2]int64               `json:"shape"`
	DType   string                 `json:"dtype"`
	Bytes   int64                  `json:"bytes"`
	Holders []Holder               `json:"holders"`
	Quant   *onnxrewrite.QuantInfo `json:"quantized,omitempty"`
}

// Shared says more than one file holds the table.
func (g Group) Shared() bool { return len(g.Holders) > 1 }

// Paths turns the command line's arguments into model files: a folder
// stands for its .onnx files (sorted by name, encoder_model.onnx and other
// encoders first, as they run first), files are taken as given.
func Paths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		st, err := os.Stat(a)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		ms, err := filepath.Glob(filepath.Join(a, "*.onnx"))
		if err != nil {
			return nil, err
		}
		if len(ms) == 0 {
			return nil, fmt.Errorf("%s: a folder with no .onnx file", a)
		}
		sort.SliceStable(ms, func(i, j int) bool { return encoderFirst(ms[i], ms[j]) })
		out = append(out, ms...)
	}
	for i, p := range out {
		for _, q := range out[:i] {
			if filepath.Base(p) == filepath.Base(q) {
				return nil, fmt.Errorf("%s and %s: two files of one name (the outputs keep the names)", q, p)
			}
		}
	}
	return out, nil
}

func encoderFirst(a, b string) bool {
	ea, eb := strings.HasPrefix(filepath.Base(a), "encoder"), strings.HasPrefix(filepath.Base(b), "encoder")
	if ea != eb {
		return ea
	}
	return a < b
}

// Load loads the files and finds their tables (copies compared in full).
func Load(paths []string) ([]*File, error) {
	var files []*File
	for _, p := range paths {
		m, err := model.Load(p)
		if err != nil {
			return nil, err
		}
		inv, err := onnxrewrite.FindTables(m)
		if err != nil {
			return nil, err
		}
		files = append(files, &File{Path: p, Model: m, Inv: inv})
	}
	return files, nil
}

// Groups finds the tables the files share: each table of each file joins
// the first group whose table it equals bitwise (onnxrewrite.SameTable),
// else starts one. Copies within a file (a tied head's transpose) are the
// file's own business, as for a single model.
func Groups(files []*File) ([]Group, error) {
	type rep struct {
		f *File
		t *onnxrewrite.Table
	}
	var groups []Group
	var reps []rep
	for _, f := range files {
		for i := range f.Inv.Tables {
			t := &f.Inv.Tables[i]
			joined := false
			for gi, r := range reps {
				if slices.ContainsFunc(groups[gi].Holders, func(h Holder) bool { return h.File == f.Path }) {
					continue
				}
				same, err := onnxrewrite.SameTable(r.f.Model, r.t, f.Model, t)
				if err != nil {
					return nil, err
				}
				if same {
					groups[gi].Holders = append(groups[gi].Holders, Holder{f.Path, t.Name})
					joined = true
					break
				}
			}
			if !joined {
				groups = append(groups, Group{Name: t.Name, Shape: t.Shape, DType: t.DType, Bytes: t.Bytes, Quant: t.Quantized,
					Holders: []Holder{{f.Path, t.Name}}})
				reps = append(reps, rep{f, t})
			}
		}
	}
	return groups, nil
}
