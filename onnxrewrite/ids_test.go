//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

import (
	"bytes"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// The model RowCounts runs holds what computes the ids and no table, so a
// large model's weights are not copied to count rows; the model it was
// made from is left as it was.
func TestExposeIDsLeavesTablesOut(t *testing.T) {
	for _, f := range fixtures.All() {
		if f.Table == "" {
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			m := testkit.Load(t, testkit.Write(t, f))
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			sites, err := onnxrewrite.IDSites(m, inv, nil)
			if err != nil {
				t.Fatal(err)
			}
			before, err := proto.Marshal(m.Proto)
			if err != nil {
				t.Fatal(err)
			}
			pruned, outs := onnxrewrite.ExposeIDs(m, sites)
			after, err := proto.Marshal(m.Proto)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(before, after) {
				t.Error("exposeIDs changed the model it was given")
			}
			if len(outs) != len(sites) || len(pruned.Proto.Graph.Output) == 0 {
				t.Fatalf("%d outputs for %d sites; graph outputs %d", len(outs), len(sites), len(pruned.Proto.Graph.Output))
			}
			for _, tb := range inv.Tables {
				if tb.Graph != "main" {
					continue
				}
				for _, init := range pruned.Proto.Graph.Initializer {
					if init.Name == tb.Name {
						t.Errorf("table %q is in the model that counts rows", tb.Name)
					}
				}
			}
			out := filepath.Join(t.TempDir(), "ids.onnx")
			if err := pruned.Save(out, model.SaveOptions{Check: validate.CheckGraph}); err != nil {
				t.Fatal(err)
			}
			size, err := model.FilesBytes(out)
			if err != nil {
				t.Fatal(err)
			}
			if size >= inv.Tables[0].Bytes {
				t.Errorf("the model that counts rows takes %d bytes, the largest table %d", size, inv.Tables[0].Bytes)
			}
		})
	}
}
