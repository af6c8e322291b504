//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

// Rewrites of tables that models carry more than once (folded copies), of
// a real transformer with learned codes (stories260K, when ../shared has
// it), and the refusal of quantized tables.

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// layouts are the layouts every rewrite here is checked in.
var layouts = []onnxrewrite.Layout{onnxrewrite.LayoutLookup, onnxrewrite.LayoutDecode}

// lyFloat32Raw encodes float32 values as raw_data.
func lyFloat32Raw(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

// lyTranspose transposes a row-major [rows, cols] matrix.
func lyTranspose(v []float32, rows, cols int) []float32 {
	out := make([]float32, len(v))
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			out[c*rows+r] = v[r*cols+c]
		}
	}
	return out
}

// lyDenseReference makes m the dense reference of a rewrite of its table:
// the table holds the decoded values and every copy the decoded values, or
// their transpose, inline.
func lyDenseReference(t *testing.T, m *model.Model, tb onnxrewrite.Table, decoded []float32) {
	t.Helper()
	if err := onnxrewrite.SetTableValues(m, tb.Name, decoded); err != nil {
		t.Fatal(err)
	}
	rows, cols := int(tb.Shape[0]), int(tb.Shape[1])
	for _, cp := range tb.Copies {
		v := decoded
		if cp.Transposed {
			v = lyTranspose(decoded, rows, cols)
		}
		i := slices.IndexFunc(m.Proto.Graph.Initializer, func(x *onnxpb.TensorProto) bool { return x.Name == cp.Name })
		if i < 0 {
			t.Fatalf("copy %q is not an initializer of the main graph", cp.Name)
		}
		init := m.Proto.Graph.Initializer[i]
		if init.DataType != int32(onnxpb.TensorProto_FLOAT) {
			t.Fatalf("copy %q: the reference handles float32 copies only", cp.Name)
		}
		if init.DataLocation == onnxpb.TensorProto_EXTERNAL {
			t.Fatalf("copy %q: the reference handles inline copies only", cp.Name)
		}
		init.RawData, init.FloatData = lyFloat32Raw(v), nil
	}
}

// lyTableSized lists the float initializers (any graph) of the table's
// shape or its transpose: after a rewrite there must be none.
func lyTableSized(mp *onnxpb.ModelProto, rows, cols int64) []string {
	var out []string
	fxEachTensor(mp, func(where string, t *onnxpb.TensorProto) {
		if len(t.Dims) == 2 && (t.Dims[0] == rows && t.Dims[1] == cols || t.Dims[0] == cols && t.Dims[1] == rows) {
			out = append(out, where)
		}
	})
	return out
}

// lyTiedTwin is the folded fixture with its copy dropped and the projection
// reading the table itself: through a Transpose where the copy was
// transposed, directly otherwise.
func lyTiedTwin(t *testing.T, f fixtures.Fixture, cp onnxrewrite.Copy) fixtures.Fixture {
	t.Helper()
	mp := proto.Clone(f.Model).(*onnxpb.ModelProto)
	g := mp.Graph
	g.Initializer = slices.DeleteFunc(g.Initializer, func(x *onnxpb.TensorProto) bool { return x.Name == cp.Name })
	src := f.Table
	if cp.Transposed {
		src = f.Table + "_transposed"
		g.Node = append([]*onnxpb.NodeProto{{Name: "tie", OpType: "Transpose", Input: []string{f.Table}, Output: []string{src},
			Attribute: []*onnxpb.AttributeProto{{Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 0}}}}}, g.Node...)
	}
	n := 0
	for _, nd := range g.Node {
		for i, in := range nd.Input {
			if in == cp.Name {
				nd.Input[i] = src
				n++
			}
		}
	}
	if n == 0 {
		t.Fatalf("no node reads the copy %q", cp.Name)
	}
	twin := f
	twin.Name, twin.Model, twin.Copies, twin.Kept = f.Name+"_tied", mp, nil, true
	return twin
}

// TestFoldedCopies rewrites the fixtures whose table has a bitwise copy
// (transposed, as PyTorch folds a tied lm_head; or straight, read by Gemm
// transB=1): the copy goes, the decoded table serves it, the output
// matches the dense reference, and the file is as small as the rewrite of
// the same model with the table genuinely tied.
func TestFoldedCopies(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.Folded() {
		t.Run(f.Name, func(t *testing.T) {
			path := testkit.Write(t, f)
			inv, err := onnxrewrite.FindTables(testkit.Load(t, path))
			if err != nil {
				t.Fatal(err)
			}
			tb, err := inv.Table("")
			if err != nil {
				t.Fatal(err)
			}
			var copies []string
			for _, c := range tb.Copies {
				copies = append(copies, c.Name)
			}
			if tb.Name != f.Table || !slices.Equal(copies, f.Copies) {
				t.Fatalf("table %q with copies %q, want %q with %q", tb.Name, copies, f.Table, f.Copies)
			}
			cp := tb.Copies[0]
			if want := tb.Shape[0] * tb.Shape[1] * 4; cp.Bytes != want {
				t.Errorf("copy %q: %d bytes, want %d", cp.Name, cp.Bytes, want)
			}
			if len(tb.OtherUses) != 0 {
				t.Errorf("the table itself has other uses %+v; only its copy should", tb.OtherUses)
			}
			twin := lyTiedTwin(t, f, cp)
			twinPath := testkit.Write(t, twin)
			twinInv, err := onnxrewrite.FindTables(testkit.Load(t, twinPath))
			if err != nil {
				t.Fatal(err)
			}
			if tt := twinInv.Tables[0]; len(tt.Copies) != 0 || len(tt.OtherUses) == 0 || tt.OtherUses[0].Kind != "tied_projection" {
				t.Fatalf("tied twin: copies %+v, other uses %+v; want a tied projection and no copy", tt.Copies, tt.OtherUses)
			}

			c, b := testkit.Codes(int(tb.Shape[0]), 8, 16, int(tb.Shape[1]), uint64(fi+40), 0)
			decoded := codes.Decode(c, b)
			for _, layout := range layouts {
				t.Run(string(layout), func(t *testing.T) {
					rw := testkit.Load(t, path)
					rep, err := onnxrewrite.RewriteTable(rw, c, b, onnxrewrite.RewriteOptions{Layout: layout})
					if err != nil {
						t.Fatal(err)
					}
					if len(rep.Copies) != 1 || rep.Copies[0] != cp {
						t.Errorf("report copies %+v, want %+v", rep.Copies, cp)
					}
					if want := tb.Bytes + cp.Bytes; rep.TableBytes != want {
						t.Errorf("report: table bytes %d, want table and copy, %d", rep.TableBytes, want)
					}
					if fxHasInitializer(rw.Proto.Graph, cp.Name) || fxHasInitializer(rw.Proto.Graph, tb.Name) {
						t.Errorf("the table or its copy is still an initializer")
					}
					if left := lyTableSized(rw.Proto, tb.Shape[0], tb.Shape[1]); len(left) > 0 {
						t.Errorf("tensors of the table's size are left: %q", left)
					}
					fxCheckWellFormed(t, rw.Proto)
					rwPath := rtkit.Save(t, rw, "rewritten.onnx")
					fxOnnxChecker(t, rwPath, rw.Proto.IrVersion, rw.Opset())

					ref := testkit.Load(t, path)
					lyDenseReference(t, ref, *tb, decoded)
					refPath := rtkit.Save(t, ref, "reference.onnx")
					got, want := fxSession(t, rt, rwPath), fxSession(t, rt, refPath)
					for trial := range trials {
						fxCompare(t, got, want, rtkit.Inputs(f.Inputs, uint64(fi), trial), 1e-5)
					}

					tw := testkit.Load(t, twinPath)
					if _, err := onnxrewrite.RewriteTable(tw, c, b, onnxrewrite.RewriteOptions{Layout: layout}); err != nil {
						t.Fatal(err)
					}
					twPath := rtkit.Save(t, tw, "tied.onnx")
					orig, folded, tied := fxFilesSize(t, path), fxFilesSize(t, rwPath), fxFilesSize(t, twPath)
					t.Logf("files: folded %d -> %d bytes, tied %d -> %d bytes", orig, folded, fxFilesSize(t, twinPath), tied)
					if d := folded - tied; d > 2048 || d < -2048 {
						t.Errorf("rewritten folded model %d bytes, rewritten tied model %d: %d apart, want within 2 KiB", folded, tied, d)
					}
					// The tied twin's rewrite matches the same reference.
					tws := fxSession(t, rt, twPath)
					for trial := range trials {
						fxCompare(t, tws, want, rtkit.Inputs(f.Inputs, uint64(fi), trial), 1e-5)
					}
				})
			}
		})
	}
}

// lyArgmax is the index of the largest of each run of n values.
func lyArgmax(v []float32, n int) []int {
	out := make([]int, len(v)/n)
	for i := range out {
		row := v[i*n : (i+1)*n]
		best := 0
		for j, x := range row {
			if x > row[best] {
				best = j
			}
		}
		out[i] = best
	}
	return out
}

// lyLogits runs a language model on ids [batch, seq] and returns its
// logits [batch, seq, vocab] as float32.
func lyLogits(t *testing.T, s *ort.Session, ids []int64, batch, seq int) []float32 {
	t.Helper()
	out, err := s.Run(map[string]ort.HostTensor{"input_ids": {Shape: []int64{int64(batch), int64(seq)}, Data: ids}})
	if err != nil {
		t.Fatal(err)
	}
	v, ok := out["logits"].Data.([]float32)
	if !ok {
		t.Fatalf("logits of type %T", out["logits"].Data)
	}
	return v
}

// lyGreedy extends each start sequence greedily with the model's own
// next-token choices to seq tokens: text as the model writes it.
func lyGreedy(t *testing.T, s *ort.Session, starts [][]int64, seq, vocab int) []int64 {
	t.Helper()
	batch := len(starts)
	n := len(starts[0])
	rows := make([][]int64, batch)
	for i := range rows {
		rows[i] = slices.Clone(starts[i])
	}
	for ; n < seq; n++ {
		ids := make([]int64, 0, batch*n)
		for _, r := range rows {
			ids = append(ids, r...)
		}
		next := lyArgmax(lyLogits(t, s, ids, batch, n), vocab)
		for i := range rows {
			rows[i] = append(rows[i], int64(next[i*n+n-1]))
		}
	}
	return slices.Concat(rows...)
}

// TestStories260K rewrites the real stories260K transformer, genuinely tied
// and with PyTorch's folded copy, with codes learned for its token table,
// and measures how often the rewritten model predicts the same next token
// as the original on text the original writes greedily.
func TestStories260K(t *testing.T) {
	if testing.Short() {
		t.Skip("skipping: learns codes for a real model (a few seconds)")
	}
	const (
		table, vocab, width = "tok_embeddings.weight", 512, 64
		copyName            = "onnx::MatMul_1351"
		batch, seq          = 8, 32
	)
	models := []struct{ name, file string }{
		{"tied", "stories260k/stories260K_tied.onnx"},
		{"folded", "stories260k/stories260K_untied_folded.onnx"},
	}
	paths := make([]string, len(models))
	for i, md := range models {
		paths[i] = testkit.SharedData(t, md.file)
	}
	rt := rtkit.Runtime(t)
	var data []float32
	for i, md := range models {
		m := testkit.Load(t, paths[i])
		inv, err := onnxrewrite.FindTables(m)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := inv.Table("")
		if err != nil {
			t.Fatal(err)
		}
		if tb.Name != table || tb.Shape != [2]int64{vocab, width} {
			t.Fatalf("%s: table %q %v, want %q [%d, %d]", md.name, tb.Name, tb.Shape, table, vocab, width)
		}
		switch md.name {
		case "tied":
			if len(tb.Copies) != 0 || !slices.ContainsFunc(tb.OtherUses, func(u onnxrewrite.Use) bool { return u.Kind == "tied_projection" }) {
				t.Errorf("tied: copies %+v, other uses %+v; want a tied projection", tb.Copies, tb.OtherUses)
			}
		case "folded":
			if len(tb.Copies) != 1 || tb.Copies[0].Name != copyName || !tb.Copies[0].Transposed || len(tb.OtherUses) != 0 {
				t.Errorf("folded: copies %+v, other uses %+v; want only the transposed copy %q", tb.Copies, tb.OtherUses, copyName)
			}
		}
		mat, err := onnxrewrite.ReadTable(m, tb)
		if err != nil {
			t.Fatal(err)
		}
		if data == nil {
			data = mat.Data
		} else if !slices.Equal(data, mat.Data) {
			t.Fatalf("the two models' tables differ")
		}
	}

	// Eight texts the original writes from BOS (1) and a drawn first token.
	orig := fxSession(t, rt, paths[0])
	starts := make([][]int64, batch)
	for i := range starts {
		starts[i] = []int64{1, int64(3 + (i*97+31)%(vocab-3))}
	}
	ids := lyGreedy(t, orig, starts, seq, vocab)
	want := lyArgmax(lyLogits(t, orig, ids, batch, seq), vocab)
	if got := lyArgmax(lyLogits(t, fxSession(t, rt, paths[1]), ids, batch, seq), vocab); !slices.Equal(got, want) {
		t.Fatalf("the folded original predicts other tokens than the tied one")
	}

	// minAgree is the share of positions whose next token must match the
	// original's, a few positions under what was measured (M=16: 202 of
	// 256, M=20: 245 of 256). The table is only 11% of the file and feeds
	// the logits directly, so small errors move the top token: M=12 agrees
	// at 0.27, M=8 at 0.18. From M=24 (K=16) the codebook is as large as
	// the table's 512 rows need to be near exact, and saves nothing.
	for _, mk := range []struct {
		m, k     int
		minAgree float64
	}{{16, 16, 0.75}, {20, 16, 0.93}} {
		res, err := learner.Learn(context.Background(), data, vocab, width, learner.Config{M: mk.m, K: mk.k, Seed: 1})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("M=%d K=%d: relative squared error %.4f, learned in %v", mk.m, mk.k, res.Metrics.RelSqErr, res.Elapsed.Round(time.Millisecond))
		c := codes.Codes{Rows: vocab, M: mk.m, K: mk.k, Data: res.Codes}
		b := codes.Codebook{M: mk.m, K: mk.k, D: width, Data: res.Codebook}
		for _, layout := range layouts {
			sizes := map[string]int64{}
			for i, md := range models {
				rw := testkit.Load(t, paths[i])
				rep, err := onnxrewrite.RewriteTable(rw, c, b, onnxrewrite.RewriteOptions{Layout: layout})
				if err != nil {
					t.Fatal(err)
				}
				if fxHasInitializer(rw.Proto.Graph, copyName) || fxHasInitializer(rw.Proto.Graph, table) {
					t.Errorf("%s %s: the table or its copy is still an initializer", md.name, layout)
				}
				rwPath := rtkit.Save(t, rw, md.name+".onnx")
				sizes[md.name] = fxFilesSize(t, rwPath)
				rws := fxSession(t, rt, rwPath)
				// The rewrite computes what the codes stand for: the
				// original with its table (and copy) decoded.
				ref := testkit.Load(t, paths[i])
				inv, err := onnxrewrite.FindTables(ref)
				if err != nil {
					t.Fatal(err)
				}
				lyDenseReference(t, ref, inv.Tables[0], codes.Decode(c, b))
				fxCompare(t, rws, fxSession(t, rt, rtkit.Save(t, ref, "reference.onnx")),
					map[string]ort.HostTensor{"input_ids": {Shape: []int64{batch, seq}, Data: ids}}, 1e-5)
				got := lyArgmax(lyLogits(t, rws, ids, batch, seq), vocab)
				same := 0
				for j := range got {
					if got[j] == want[j] {
						same++
					}
				}
				agree := float64(same) / float64(len(want))
				t.Logf("M=%d K=%d %-6s %-6s: next token as the original's at %d of %d positions (%.3f); table%s %d bytes -> %d; file %d -> %d bytes",
					mk.m, mk.k, md.name, layout, same, len(want), agree, map[bool]string{true: " and copy"}[len(rep.Copies) > 0],
					rep.TableBytes, rep.CodesBytes+rep.CodebookBytes+rep.AuxBytes, fxFilesSize(t, paths[i]), sizes[md.name])
				if agree < mk.minAgree {
					t.Errorf("M=%d K=%d %s %s: next token agrees at %.3f of positions, want at least %g", mk.m, mk.k, md.name, layout, agree, mk.minAgree)
				}
			}
			if d := sizes["folded"] - sizes["tied"]; d > 2048 || d < -2048 {
				t.Errorf("M=%d K=%d %s: rewritten folded model %d bytes, tied %d: want within 2 KiB", mk.m, mk.k, layout, sizes["folded"], sizes["tied"])
			}
		}
	}
}

// TestQuantizedTables checks that FindTables reports 8-bit tables
// dequantized after the Gather, with how they are dequantized, the bytes
// of values, scales and zero points, and that a rewrite takes them; and
// that a form it does not support (the scale a graph input) is refused by
// name, leaving the model as it was.
func TestQuantizedTables(t *testing.T) {
	cases := map[string]struct {
		dtype   string
		perAxis bool
		axis    int64
		lo, hi  int64 // the zero point's range
	}{
		"quantized_int8":           {"int8", false, -1, -128, 127},
		"quantized_uint8_per_axis": {"uint8", true, 1, 0, 255},
	}
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.Quantized() {
		t.Run(f.Name, func(t *testing.T) {
			want, ok := cases[f.Name]
			if !ok {
				t.Fatalf("no expectations for fixture %s", f.Name)
			}
			path := testkit.Write(t, f)
			if _, err := fxSession(t, rt, path).Run(rtkit.Inputs(f.Inputs, uint64(fi), 0)); err != nil {
				t.Fatalf("the fixture does not run: %v", err)
			}
			m := testkit.Load(t, path)
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			if len(inv.Tables) != 1 {
				t.Fatalf("tables %+v, want %q", inv.Tables, f.Tables)
			}
			tb := inv.Tables[0]
			q := tb.Quantized
			if q == nil {
				t.Fatalf("table %q: no Quantized info", tb.Name)
			}
			width := 1
			if want.perAxis {
				width = int(tb.Shape[1])
			}
			values, params := tb.Shape[0]*tb.Shape[1], int64(width*5) // a float32 scale and an 8-bit zero point each
			if tb.Name != f.Quantized[0] || tb.DType != want.dtype || q.ValueBytes != values || q.ParamBytes != params || tb.Bytes != values+params {
				t.Errorf("table %q %s, %d bytes (%d + %d) for %v; want %q %s, %d + %d", tb.Name, tb.DType, tb.Bytes, q.ValueBytes, q.ParamBytes,
					tb.Shape, f.Quantized[0], want.dtype, values, params)
			}
			if q.Node.Node != "dequantize" || q.Node.OpType != "DequantizeLinear" || q.Scale != "qemb_scale" || q.ZeroPoint != "qemb_zero_point" ||
				q.PerAxis != want.perAxis || q.Axis != want.axis || len(q.ScaleValues) != width || len(q.ZeroPointValues) != width ||
				q.Form != "gather-dequantize" || q.Float != "float32" || q.Unsupported != "" {
				t.Errorf("quantized %+v: want node dequantize, scale qemb_scale, zero point qemb_zero_point, per axis %v, axis %d, %d values each",
					*q, want.perAxis, want.axis, width)
			}
			for _, z := range q.ZeroPointValues {
				if z < want.lo || z > want.hi {
					t.Errorf("zero point %d outside %s", z, want.dtype)
				}
			}
			if err := tb.Rewritable(); err != nil {
				t.Errorf("Rewritable: %v", err)
			}
			c, b := testkit.Codes(int(tb.Shape[0]), 8, 16, int(tb.Shape[1]), 1, 0)
			rep, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutLookup})
			if err != nil || rep.Table != tb.Name || rep.TableBytes != tb.Bytes {
				t.Fatalf("RewriteTable: %+v, %v; want table %q of %d bytes", rep, err, tb.Name, tb.Bytes)
			}
			lyUnsupportedQuant(t, f)
		})
	}
}

// lyScaleAsInput makes the fixture's scale a graph input: a quantized form
// no rewrite supports.
func lyScaleAsInput(f fixtures.Fixture) fixtures.Fixture {
	mp := proto.Clone(f.Model).(*onnxpb.ModelProto)
	g := mp.Graph
	for _, in := range g.Initializer {
		if in.Name == "qemb_scale" {
			g.Input = append(g.Input, &onnxpb.ValueInfoProto{Name: in.Name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
				TensorType: &onnxpb.TypeProto_Tensor{ElemType: in.DataType}}}})
		}
	}
	g.Initializer = slices.DeleteFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return t.Name == "qemb_scale" })
	f.Model = mp
	return f
}

// lyUnsupportedQuant checks that a quantized form no rewrite supports is
// reported, refused by name with ErrQuantized, and left as it was.
func lyUnsupportedQuant(t *testing.T, f fixtures.Fixture) {
	t.Helper()
	m := testkit.Load(t, testkit.Write(t, lyScaleAsInput(f)))
	inv, err := onnxrewrite.FindTables(m)
	if err != nil || len(inv.Tables) != 1 {
		t.Fatalf("tables %+v, %v; want one", inv, err)
	}
	tb := inv.Tables[0]
	if err := tb.Rewritable(); !errors.Is(err, onnxrewrite.ErrQuantized) {
		t.Errorf("Rewritable: %v, want ErrQuantized", err)
	}
	before := fxTensors(t, m)
	c, b := testkit.Codes(int(tb.Shape[0]), 8, 16, int(tb.Shape[1]), 1, 0)
	for _, layout := range layouts {
		_, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: layout})
		if !errors.Is(err, onnxrewrite.ErrQuantized) {
			t.Fatalf("%s: RewriteTable of an unsupported quantized table: %v, want ErrQuantized", layout, err)
		}
		for _, s := range []string{tb.Name, tb.DType, "dequantize", "qemb_scale", "is not a constant", "compress the float model before quantizing"} {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: error %q does not say %q", layout, err, s)
			}
		}
	}
	if _, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{}); !errors.Is(err, onnxrewrite.ErrNotFound) || !strings.Contains(err.Error(), tb.Name) {
		t.Errorf("RewriteTable of the default table: %v, want ErrNotFound naming %q", err, tb.Name)
	}
	if _, err := onnxrewrite.ReadTable(m, &tb); !errors.Is(err, onnxrewrite.ErrQuantized) {
		t.Errorf("ReadTable: %v, want ErrQuantized", err)
	}
	after := fxTensors(t, m)
	if len(after) != len(before) {
		t.Fatalf("the refused rewrites changed the model: %d tensors, was %d", len(after), len(before))
	}
	for i := range before {
		if before[i].where != after[i].where || !slices.Equal(before[i].bytes, after[i].bytes) {
			t.Errorf("the refused rewrites changed %s", before[i].where)
		}
	}
}

// TestQuantizedNotDefault adds a small float table to a model with a larger
// quantized one in a form no rewrite supports: the float table is the
// default, and a rewrite takes it.
func TestQuantizedNotDefault(t *testing.T) {
	f := lyScaleAsInput(fixtures.Quantized()[0])
	mp := proto.Clone(f.Model).(*onnxpb.ModelProto)
	g := mp.Graph
	const rows, width = 10, 16
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "small", Dims: []int64{rows, width},
		DataType: int32(onnxpb.TensorProto_FLOAT), RawData: lyFloat32Raw(make([]float32, rows*width))})
	g.Input = append(g.Input, &onnxpb.ValueInfoProto{Name: "small_ids"})
	g.Node = append(g.Node, &onnxpb.NodeProto{Name: "small_embed", OpType: "Gather", Input: []string{"small", "small_ids"}, Output: []string{"small_h"}})
	g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: "small_h"})
	f.Model = mp
	m := testkit.Load(t, testkit.Write(t, f))
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tb := range inv.Tables {
		names = append(names, tb.Name)
	}
	if !slices.Equal(names, []string{"qemb", "small"}) {
		t.Fatalf("tables %q, want the quantized qemb (larger) then small", names)
	}
	if tb, err := inv.Table(""); err != nil || tb.Name != "small" {
		t.Fatalf("default table %v, %v; want small", tb, err)
	}
	c, b := testkit.Codes(rows, 2, 4, width, 1, 0)
	rep, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{})
	if err != nil || rep.Table != "small" {
		t.Fatalf("rewrite: %+v, %v; want table small", rep, err)
	}
}
