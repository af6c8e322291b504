//go:build cgo

// This test runs ONNX Runtime, which needs cgo.

package onnxrewrite_test

// Rewrites of the exporter-made zoo (fixtures.Zoo: models written by
// torch.onnx.export), checked in ONNX Runtime against the dense reference:
// the exported model with each float table replaced by its decoded codes.

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
)

func TestZooRewriteORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	root := testkit.RepoRoot(t)
	for zi, z := range fixtures.Zoo() {
		for _, layout := range []onnxrewrite.Layout{onnxrewrite.LayoutLookup, onnxrewrite.LayoutDecode} {
			t.Run(fmt.Sprintf("%s/%s", z.Name, layout), func(t *testing.T) {
				path := fixtures.ZooPath(root, z.Name)
				m, ref := testkit.Load(t, path), testkit.Load(t, path)
				inv, err := onnxrewrite.FindTables(m)
				if err != nil {
					t.Fatal(err)
				}
				var found []string
				for _, tb := range inv.Tables {
					found = append(found, tb.Name)
				}
				if fmt.Sprint(found) != fmt.Sprint(z.Tables) {
					t.Fatalf("tables %q, want %q", found, z.Tables)
				}
				rewritten := 0
				for ti, tb := range inv.Tables {
					if tb.Quantized != nil {
						continue // no dense reference here: TestQuantFormsRewriteORT checks the forms
					}
					// A grid of 1/64 keeps sums of codewords exact in a 16-bit
					// table, so that both models round the same rows.
					c, b := testkit.Codes(int(tb.Shape[0]), 4, 16, int(tb.Shape[1]), uint64(10*zi+ti+1), 64)
					_, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: layout})
					if tb.Via != nil && layout == onnxrewrite.LayoutLookup {
						// Read through a Cast, an Identity or a function call: decode only.
						if err == nil || !strings.Contains(err.Error(), "only the decode layout") {
							t.Fatalf("lookup of %s read through %s: error %v, want a refusal", tb.Name, tb.Via.OpType, err)
						}
						continue
					}
					if err != nil {
						t.Fatal(err)
					}
					if err := onnxrewrite.SetTableValues(ref, tb.Name, codes.Decode(c, b)); err != nil {
						t.Fatal(err)
					}
					rewritten++
				}
				if rewritten == 0 {
					t.Skip("no table this layout rewrites here: quantized (checked by TestQuantFormsRewriteORT) or read through another node (decode only)")
				}
				refPath := filepath.Join(t.TempDir(), "ref.onnx")
				if err := ref.Save(refPath, model.SaveOptions{}); err != nil {
					t.Fatal(err)
				}
				got := fxSession(t, rt, rtkit.Save(t, m, "rewritten.onnx"))
				want := fxSession(t, rt, refPath)
				for trial := range 2 {
					fxCompare(t, got, want, rtkit.Inputs(z.Inputs, uint64(zi), trial), 1e-5)
				}
			})
		}
	}
}
