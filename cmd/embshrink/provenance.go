package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// provenanceJSON is what inspect --json shows of a compressed model.
type provenanceJSON struct {
	Version      string                              `json:"version"`
	SourceSHA256 string                              `json:"source_sha256"`
	Tables       map[string]compress.TableProvenance `json:"tables"`
}

func readProvenanceJSON(m *model.Model) *provenanceJSON {
	v, src, tables, ok := compress.ReadProvenance(m)
	if !ok {
		return nil
	}
	return &provenanceJSON{Version: v, SourceSHA256: src, Tables: tables}
}

// printProvenance is inspect's account of what compress did to the model.
func printProvenance(w io.Writer, m *model.Model) {
	p := readProvenanceJSON(m)
	if p == nil {
		return
	}
	fmt.Fprintf(w, "\ncompressed by embshrink %s from a model of sha256 %s\n", p.Version, p.SourceSHA256)
	var names []string
	for n := range p.Tables {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t := p.Tables[n]
		cal := "no calibration"
		if t.RowsRead != "" {
			cal = fmt.Sprintf("calibration read %d of %d rows", t.CalibrationRowsRead, t.Rows)
		}
		fmt.Fprintf(w, "  %s: M=%d K=%d, method %s, seed %d, codebook %s, %s layout, %s\n", n, t.M, t.K, t.Method, t.Seed, t.CodebookDType, t.Layout, cal)
	}
}

// unseenRowsHint explains a comparison on generated ids against a model
// compressed with calibration: generated ids are uniform over the table's
// rows, most of which calibration may never have read. "" when it does
// not apply.
func unseenRowsHint(rewritten string, rep *validate.CompareReport) string {
	m, err := model.Load(rewritten)
	if err != nil {
		return ""
	}
	_, _, tables, ok := compress.ReadProvenance(m)
	if !ok {
		return ""
	}
	var notes, names []string
	for _, in := range rep.Inputs {
		t, found := tables[in.Table]
		if in.Source != "generated" || !found || t.RowsRead == "" || len(in.IDRange) != 2 {
			continue
		}
		share := t.UnseenShare(in.IDRange[0], in.IDRange[1])
		if share == 0 {
			continue
		}
		names = append(names, in.Name)
		notes = append(notes, fmt.Sprintf("input %s is generated ids uniform over the %d rows of table %s, but calibration read only %d of its rows: %.1f%% of these generated reads hit rows calibration never saw, whose codes were learned with little weight",
			in.Name, t.Rows, in.Table, t.CalibrationRowsRead, 100*share))
	}
	if len(notes) == 0 {
		return ""
	}
	return "note: " + strings.Join(notes, "; ") + ".\n  Validate on real inputs instead: --inputs " + names[0] + "=HELDOUT.npy (held-out inputs like the calibration's)."
}
