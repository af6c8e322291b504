package onnxrewrite_test

// Rewrites of tables that models carry more than once (folded copies), of
// a real transformer with learned codes (stories260K, when ../shared has
// it), and the refusal of quantized tables.

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
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
func lyDenseReference(t *testing.T, m *onnxrewrite.Model, tb onnxrewrite.Table, decoded []float32) {
	t.Helper()
	if err := m.SetTableValues(tb.Name, decoded); err != nil {
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
	rt := fxRuntime(t)
	for fi, f := range fixtures.Folded() {
		t.Run(f.Name, func(t *testing.T) {
			path := fxWrite(t, f)
			inv, err := onnxrewrite.FindTables(fxLoad(t, path))
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
			twinPath := fxWrite(t, twin)
			twinInv, err := onnxrewrite.FindTables(fxLoad(t, twinPath))
			if err != nil {
				t.Fatal(err)
			}
			if tt := twinInv.Tables[0]; len(tt.Copies) != 0 || len(tt.OtherUses) == 0 || tt.OtherUses[0].Kind != "tied_projection" {
				t.Fatalf("tied twin: copies %+v, other uses %+v; want a tied projection and no copy", tt.Copies, tt.OtherUses)
			}

			c, b := fxCodes(int(tb.Shape[0]), 8, 16, int(tb.Shape[1]), uint64(fi+40), 0)
			decoded := onnxrewrite.Decode(c, b)
			for _, layout := range layouts {
				t.Run(string(layout), func(t *testing.T) {
					rw := fxLoad(t, path)
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
					rwPath := fxSave(t, rw, "rewritten.onnx")
					fxOnnxChecker(t, rwPath, rw.Proto.IrVersion, rw.Opset())

					ref := fxLoad(t, path)
					lyDenseReference(t, ref, *tb, decoded)
					refPath := fxSave(t, ref, "reference.onnx")
					got, want := fxSession(t, rt, rwPath), fxSession(t, rt, refPath)
					for trial := range trials {
						fxCompare(t, got, want, fxInputs(f.Inputs, uint64(fi), trial), 1e-5)
					}

					tw := fxLoad(t, twinPath)
					if _, err := onnxrewrite.RewriteTable(tw, c, b, onnxrewrite.RewriteOptions{Layout: layout}); err != nil {
						t.Fatal(err)
					}
					twPath := fxSave(t, tw, "tied.onnx")
					orig, folded, tied := fxFilesSize(t, path), fxFilesSize(t, rwPath), fxFilesSize(t, twPath)
					t.Logf("files: folded %d -> %d bytes, tied %d -> %d bytes", orig, folded, fxFilesSize(t, twinPath), tied)
					if d := folded - tied; d > 2048 || d < -2048 {
						t.Errorf("rewritten folded model %d bytes, rewritten tied model %d: %d apart, want within 2 KiB", folded, tied, d)
					}
					// The tied twin's rewrite matches the same reference.
					tws := fxSession(t, rt, twPath)
					for trial := range trials {
						fxCompare(t, tws, want, fxInputs(f.Inputs, uint64(fi), trial), 1e-5)
					}
				})
			}
		})
	}
}
