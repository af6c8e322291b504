package onnxrewrite

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Layout says how a rewritten table is read at run time.
type Layout string

// Layouts; see the rules above.
const (
	LayoutAuto   Layout = "auto"
	LayoutLookup Layout = "lookup"
	LayoutDecode Layout = "decode"
)

// AutoDecodeLimit is the size of a dense table up to which LayoutAuto
// decodes it at load: below it the original's run-time memory is kept and
// its speed with it; above it the lookup saves the memory.
const AutoDecodeLimit = 256 << 20

// CodesPerByte is how many codes of K values one byte of a packed row holds;
// 1 when K > 16 (and with K > 256 a code takes two bytes).
func CodesPerByte(k int) int {
	switch {
	case k <= 4:
		return 4
	case k <= 16:
		return 2
	}
	return 1
}

// codebookDoc starts the doc string of every codebook a rewrite writes, so
// that FindTables does not take it for an embedding table.
const codebookDoc = "embshrink codebook of table"

// RewriteOptions controls RewriteTable.
type RewriteOptions struct {
	// Table is the table to rewrite; "" means the largest.
	Table string
	// Layout defaults to LayoutAuto.
	Layout Layout
	// NoPack stores one code per byte (or two bytes) even when K allows
	// packing.
	NoPack bool
	// NoBag keeps the per-token lookup for Gathers whose rows are pooled
	// (see bag.go).
	NoBag bool
	// CodebookDType stores the codebook as "float32", "float16" or
	// "bfloat16"; "" keeps the table's float type (see codebookType).
	CodebookDType string
}

// RewriteReport says what a rewrite did.
type RewriteReport struct {
	Table  string `json:"table"`
	Layout Layout `json:"layout"`
	// LayoutReason says why the layout was chosen.
	LayoutReason string `json:"layout_reason"`
	// Gathers counts the embedding Gathers now reading codes (lookup) or
	// the decoded table (decode).
	Gathers int `json:"gathers"`
	// Bags counts the lookup Gathers that, with the ReduceSum or ReduceMean
	// pooling them, became code counts times the codebook.
	Bags int `json:"bags"`
	// Notes say why pooled Gathers kept the per-token lookup, how the
	// graph's inputs changed (a table that was also a graph input), and
	// which value_info entries were dropped as describing no value
	// (model.PruneValueInfo).
	Notes []string `json:"notes,omitempty"`
	// OtherUses are readers of the table that now read the decoded table.
	OtherUses []Use `json:"other_uses"`
	// Copies are initializers that were copies of the table, now computed
	// from the decoded table.
	Copies []Copy `json:"copies"`
	// TableBytes is the bytes the table and its copies took.
	TableBytes int64 `json:"table_bytes"`
	// CodesBytes, CodebookBytes and AuxBytes (offsets, unpacking tables)
	// are what replaces them.
	CodesBytes    int64 `json:"codes_bytes"`
	CodebookBytes int64 `json:"codebook_bytes"`
	AuxBytes      int64 `json:"aux_bytes"`
	CodesPerByte  int   `json:"codes_per_byte"`
	// CodebookDType is the element type the codebook is stored in.
	CodebookDType string `json:"codebook_dtype"`
	// Quantized describes the quantized table the rewrite replaced, chain
	// and all; nil for a float table.
	Quantized *QuantInfo `json:"quantized,omitempty"`
}

// Supported opsets of the default domain. From 11 Gather takes negative
// indices and ReduceSum negative axes; the rules hold unchanged to 24 (22 to
// 24 gave the ops the rewrite emits new types, not new semantics) and are
// checked in ONNX Runtime at 11, 13, 18, 21, 22, 23 and 24.
const (
	MinOpset = 11
	MaxOpset = 24
)

// RewriteTable replaces a table with codes and a codebook, following the
// rules at the top of this file. Ids of any rank, int32 or int64, negative
// ones included, index the codes exactly as they indexed the table.
func RewriteTable(m *model.Model, c codes.Codes, b codes.Codebook, opts RewriteOptions) (*RewriteReport, error) {
	op := m.Opset()
	if op < MinOpset || op > MaxOpset {
		return nil, fmt.Errorf("%s: default opset %d is not supported (%d to %d)", m.Path, op, MinOpset, MaxOpset)
	}
	if err := model.CheckDataflow(m); err != nil {
		return nil, err
	}
	inv, err := FindTables(m)
	if err != nil {
		return nil, err
	}
	tb, err := rewritableTable(m, inv, opts.Table)
	if err != nil {
		return nil, err
	}
	if err := codes.Check(c, b, tb.Shape[0], tb.Shape[1]); err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	if _, _, err := chooseLayout(tb, opts.Layout); err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	qt := tb
	if tb.Quantized != nil {
		name, err := lowerQuant(m, tb)
		if err != nil {
			return nil, err
		}
		if inv, err = FindTables(m); err != nil {
			return nil, err
		}
		if tb, err = inv.Table(name); err != nil {
			return nil, fmt.Errorf("%s: the dequantized table of %q: %w", m.Path, qt.Name, err)
		}
	}
	rep, err := rewriteFloat(m, tb, c, b, opts, op)
	if err != nil {
		return nil, err
	}
	if qt.Quantized != nil {
		quantReport(rep, qt, tb)
	}
	rep.Notes = append(rep.Notes, m.PruneValueInfo()...)
	return rep, nil
}

// rewriteFloat rewrites float table tb of m.
func rewriteFloat(m *model.Model, tb *Table, c codes.Codes, b codes.Codebook, opts RewriteOptions, op int64) (*RewriteReport, error) {
	layout, reason, err := chooseLayout(tb, opts.Layout)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	p := CodesPerByte(c.K)
	if opts.NoPack {
		p = 1
	}
	dt := model.DataType(tb.def.tensor.DataType)
	e := &emitter{m: m, tb: tb, names: model.NewNamer(m), dt: dt, bookDT: dt, opset: op, p: p, c: c, b: b, noBag: opts.NoBag}
	if opts.CodebookDType != "" {
		if e.bookDT, err = codebookType(opts.CodebookDType, dt); err != nil {
			return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
		}
	}
	rep := &RewriteReport{Table: tb.Name, Layout: layout, LayoutReason: reason, OtherUses: tb.OtherUses, Copies: tb.Copies,
		TableBytes: tb.Bytes, CodesPerByte: p, CodebookDType: model.DTypeName(e.bookDT)}
	for _, cp := range tb.Copies {
		rep.TableBytes += cp.Bytes
	}
	e.storeCodes()
	if err := e.storeBook(); err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}

	// The decoded table, under the table's own name, when anything but
	// lookup Gathers reads it.
	needDense := layout == LayoutDecode || len(tb.OtherUses) > 0 || len(tb.Copies) > 0 || isGraphOutput(tb.def.graph.g, tb.Name)
	if needDense {
		e.rowSum(e.codes.Name, tb.Name, &e.head)
		e.serveCopies()
	}
	if layout == LayoutDecode {
		rep.Gathers = len(tb.Gathers)
	} else {
		rep.Gathers, rep.Bags = e.replaceGathers()
		rep.Notes = e.notes
	}
	e.removeTable()
	if !needDense {
		e.drop(tb.def.graph.g, tb.Name)
	}
	e.finish(rep)
	dropped, notes := dropUnreadAttrs(tb)
	rep.TableBytes += dropped
	rep.Notes = append(append(rep.Notes, notes...), signatureNotes(e, tb)...)
	return rep, nil
}

// signatureNotes say how the rewrite changed the graph's inputs, which a
// caller feeding the model must know.
func signatureNotes(e *emitter, tb *Table) []string {
	var notes []string
	if tb.GraphInput {
		notes = append(notes, fmt.Sprintf("graph input %q (the table, which a caller could feed instead of the initializer) is no longer an input: it is computed from the codes", tb.Name))
	}
	if ir := e.m.Proto.IrVersion; ir < 4 && len(e.added) > 0 {
		notes = append(notes, fmt.Sprintf("IR version %d: the %d new initializers are also declared as graph inputs, as IR < 4 requires", ir, len(e.added)))
	}
	return notes
}

// finish puts the new nodes and tensors into the table's graph and counts
// their bytes.
func (e *emitter) finish(rep *RewriteReport) {
	for g, names := range e.gone {
		g.ValueInfo = without(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool { return slices.Contains(names, v.Name) })
	}
	g0 := e.tb.def.graph.g
	g0.Node = append(e.head, g0.Node...)
	g0.Initializer = append(g0.Initializer, e.added...)
	if e.m.Proto.IrVersion < 4 {
		// Before IR 4 every initializer must also be a graph input.
		for _, t := range e.added {
			g0.Input = append(g0.Input, tensorValueInfo(t.Name, model.DataType(t.DataType), t.Dims))
		}
	}
	for _, t := range e.added {
		e.m.AddTensor(t)
		switch t {
		case e.codes:
			rep.CodesBytes += model.StoredBytes(t)
		case e.book:
			rep.CodebookBytes += model.StoredBytes(t)
		default:
			rep.AuxBytes += model.StoredBytes(t)
		}
	}
}

func chooseLayout(tb *Table, want Layout) (Layout, string, error) {
	dense := tb.Bytes
	if tb.Via != nil {
		why := fmt.Sprintf("the Gathers read the table through %s %s, which reads it by name", tb.Via.OpType, tb.Via.Node)
		if want == LayoutLookup {
			return "", "", fmt.Errorf("layout lookup: %s; only the decode layout (or auto) keeps that reader", why)
		}
		return LayoutDecode, why, nil
	}
	switch want {
	case LayoutLookup:
		return LayoutLookup, "asked for", nil
	case LayoutDecode:
		return LayoutDecode, "asked for", nil
	case LayoutAuto, "":
	default:
		return "", "", fmt.Errorf("layout %q: want lookup, decode or auto", want)
	}
	if len(tb.OtherUses) > 0 || len(tb.Copies) > 0 {
		return LayoutDecode, "the table has readers besides embedding Gathers, which need it decoded anyway", nil
	}
	if dense <= AutoDecodeLimit {
		return LayoutDecode, fmt.Sprintf("the dense table (%d bytes) fits in %d MiB: decoded once at load it runs at the original's speed", dense, AutoDecodeLimit>>20), nil
	}
	return LayoutLookup, fmt.Sprintf("the dense table (%d bytes) is over %d MiB: read from codes at run time (per token, or per bag where pooled), it never takes that memory", dense, AutoDecodeLimit>>20), nil
}

// SetTableValues replaces a table's values (given as float32, stored in the
// table's element type), and those of its copies (transposed where they
// are). Tests use it to build the dense reference a rewrite must match.
func SetTableValues(m *model.Model, name string, v []float32) error {
	tb, err := findTable(m, name)
	if err != nil {
		return err
	}
	if err := tb.Rewritable(); err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	rows, cols := int(tb.Shape[0]), int(tb.Shape[1])
	if len(v) != rows*cols {
		return fmt.Errorf("%s: table %q is %v, got %d values", m.Path, tb.Name, tb.Shape, len(v))
	}
	if err := m.SetFloat32s(tb.def.tensor, v); err != nil {
		return fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	for _, cp := range tb.Copies {
		vals := v
		if cp.Transposed {
			vals = make([]float32, len(v))
			for r := 0; r < rows; r++ {
				for c := 0; c < cols; c++ {
					vals[c*rows+r] = v[r*cols+c]
				}
			}
		}
		for _, t := range tb.def.graph.g.Initializer {
			if t.Name == cp.Name {
				if err := m.SetFloat32s(t, vals); err != nil {
					return fmt.Errorf("%s: copy %q: %w", m.Path, cp.Name, err)
				}
			}
		}
	}
	return nil
}
