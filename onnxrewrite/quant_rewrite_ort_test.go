//go:build cgo

// This test runs ONNX Runtime, which needs cgo.

package onnxrewrite_test

// Rewrites of the quantized fixtures (fixtures.QuantForms), checked in ONNX
// Runtime against the dense reference with the decoded rows as its table.
// Helpers are prefixed qr.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

func TestQuantFormsRewriteORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range fixtures.QuantForms() {
		for _, opts := range []onnxrewrite.RewriteOptions{
			{Layout: onnxrewrite.LayoutLookup}, {Layout: onnxrewrite.LayoutDecode},
			{Layout: onnxrewrite.LayoutLookup, CodebookDType: onnxrewrite.CodebookFloat16},
		} {
			t.Run(fmt.Sprintf("%s/%s/%s", f.Name, opts.Layout, opts.CodebookDType), func(t *testing.T) {
				path := testkit.Write(t, f)
				m := testkit.Load(t, path)
				q := f.Quant
				c, b := testkit.Codes(int(q.Rows), 8, 16, int(q.Cols), uint64(fi+1), 0)
				opts.Table = q.Table
				rep, err := onnxrewrite.RewriteTable(m, c, b, opts)
				if err != nil {
					t.Fatal(err)
				}
				if rep.Table != q.Table || rep.Quantized == nil {
					t.Fatalf("report of table %q, quantized %v", rep.Table, rep.Quantized)
				}
				qrNoChain(t, m.Proto.Graph, q)
				if opts.CodebookDType != "" {
					if err := onnxrewrite.RoundCodebook(b.Data, opts.CodebookDType); err != nil {
						t.Fatal(err)
					}
				}
				ref := m.Derive(f.DenseReference())
				if err := onnxrewrite.SetTableValues(ref, "emb", codes.Decode(c, b)); err != nil {
					t.Fatal(err)
				}
				if len(rep.Quantized.Kept) > 0 {
					qrKeptHead(t, ref.Proto.Graph, q)
				}
				refPath := filepath.Join(t.TempDir(), "ref.onnx")
				if err := ref.Save(refPath, model.SaveOptions{}); err != nil {
					t.Fatal(err)
				}
				got := fxSession(t, rt, rtkit.Save(t, m, "rewritten.onnx"))
				want := fxSession(t, rt, refPath)
				for trial := range 3 {
					fxCompare(t, got, want, rtkit.Inputs(f.Inputs, uint64(fi), trial), 1e-5)
				}
				t.Logf("%s: %s; table %d -> codes %d + codebook %d + aux %d bytes; %s", f.Name, q.Scheme, rep.TableBytes,
					rep.CodesBytes, rep.CodebookBytes, rep.AuxBytes, strings.Join(rep.Notes, "; "))
			})
		}
	}
}

// qrNoChain checks that the rewritten graph keeps none of the quantized
// table's tensors or dequantizing nodes, but the weights a quantized
// projection reads itself.
func qrNoChain(t *testing.T, g *onnxpb.GraphProto, q *fixtures.Quant) {
	t.Helper()
	gone := append([]string{q.Table}, q.Params...)
	for _, in := range g.Initializer {
		for _, name := range gone {
			if in.Name == name && !strings.HasPrefix(name, "lm_head") {
				t.Errorf("initializer %q is still there", name)
			}
		}
	}
	for _, n := range g.Node {
		switch n.OpType {
		case "DequantizeLinear", "GatherBlockQuantized", "Sub", "Mul":
			t.Errorf("node %s %q is still there", n.OpType, n.Name)
		}
	}
}

// qrKeptHead makes the reference's tied projection read the original
// dequantized table, as a projection that keeps its own quantized weights
// does after the rewrite.
func qrKeptHead(t *testing.T, g *onnxpb.GraphProto, q *fixtures.Quant) {
	t.Helper()
	raw, err := model.EncodeFloats(q.Dense, model.Float32)
	if err != nil {
		t.Fatal(err)
	}
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "emb_head", Dims: []int64{q.Rows, q.Cols}, DataType: int32(model.Float32), RawData: raw})
	for _, n := range g.Node {
		if n.OpType == "Transpose" && n.Input[0] == "emb" {
			n.Input[0] = "emb_head"
			return
		}
	}
	t.Fatal("the reference has no tied projection")
}
