//go:build cgo

// This test runs ONNX Runtime, which needs cgo.

package onnxrewrite_test

import (
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// ONNX Runtime's fused EmbedLayerNormalization: its three tables are found
// with the node as Via and their ids sites (input_ids, segment_ids, and
// positions along input_ids); each table rewritten in the decode layout
// (lookup is refused) computes what the model with the decoded table does.
func TestEmbedLayerNormORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	f, ok := fixtures.InputRole("roles_embed_layer_norm")
	if !ok {
		t.Fatalf("no InputRoles fixture %q", "roles_embed_layer_norm")
	}
	path := testkit.Write(t, f)
	m := testkit.Load(t, path)
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tb := range inv.Tables {
		if tb.Via == nil || tb.Via.OpType != "EmbedLayerNormalization" || len(tb.Gathers) != 1 {
			t.Errorf("table %s: via %+v, gathers %+v; want the node as Via and its one reader", tb.Name, tb.Via, tb.Gathers)
		}
		got = append(got, tb.Name)
	}
	if fmt.Sprint(got) != fmt.Sprint(f.Tables) {
		t.Fatalf("tables %q, want %q", got, f.Tables)
	}
	sites, err := onnxrewrite.IDSites(m, inv, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantSites := map[string]string{"word_embeddings": "input_ids", "segment_embeddings": "segment_ids", "position_embeddings": "positions of input_ids"}
	for _, s := range sites {
		desc := s.IDs
		if s.Positions {
			desc = "positions of " + s.IDs
		}
		if s.Err != nil || desc != wantSites[s.Table] {
			t.Errorf("table %s: ids %q (%v), want %q", s.Table, desc, s.Err, wantSites[s.Table])
		}
	}
	for ti, name := range f.Tables {
		t.Run(name, func(t *testing.T) {
			m, ref := testkit.Load(t, path), testkit.Load(t, path)
			tb, err := inv.Table(name)
			if err != nil {
				t.Fatal(err)
			}
			c, b := testkit.Codes(int(tb.Shape[0]), 4, 16, int(tb.Shape[1]), uint64(ti+1), 64)
			_, err = onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: name, Layout: onnxrewrite.LayoutLookup})
			if err == nil || !strings.Contains(err.Error(), "only the decode layout") {
				t.Fatalf("lookup: %v, want a refusal", err)
			}
			rep, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: name})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Layout != onnxrewrite.LayoutDecode {
				t.Errorf("layout %s, want decode", rep.Layout)
			}
			if err := onnxrewrite.SetTableValues(ref, name, codes.Decode(c, b)); err != nil {
				t.Fatal(err)
			}
			refPath := filepath.Join(t.TempDir(), "ref.onnx")
			if err := ref.Save(refPath, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			gotS := fxSession(t, rt, rtkit.Save(t, m, "rewritten.onnx"))
			wantS := fxSession(t, rt, refPath)
			orig := fxSession(t, rt, path)
			for trial := range 2 {
				in := rtkit.Inputs(f.Inputs, 7, trial)
				fxCompare(t, gotS, wantS, in, 1e-5)
				// The codes differ from the table: the original must not
				// match, or the comparison above proves nothing.
				if a, b := runOut(t, gotS, in), runOut(t, orig, in); relDiff(a, b) < 1e-3 {
					t.Errorf("trial %d: the rewritten model matches the original (%.3g): the table is not read", trial, relDiff(a, b))
				}
			}
		})
	}
}

// runOut runs s and returns its output "out".
func runOut(t *testing.T, s *ort.Session, in map[string]ort.HostTensor) []float64 {
	t.Helper()
	res, err := s.Run(in)
	if err != nil {
		t.Fatal(err)
	}
	return fxFloats(t, res["out"])
}

// relDiff is ||a - b|| / ||b||.
func relDiff(a, b []float64) float64 {
	var d, n float64
	for i := range b {
		d += (a[i] - b[i]) * (a[i] - b[i])
		n += b[i] * b[i]
	}
	return math.Sqrt(d / n)
}
