package onnxrewrite_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Load a fixture, find its table, rewrite it with given codes and save: the
// whole rewrite path, in pure Go (it runs with CGO_ENABLED=0).
func Example() {
	dir, err := os.MkdirTemp("", "embshrink-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f := fixtures.All()[0]
	if err := fixtures.Write(dir, f); err != nil {
		log.Fatal(err)
	}
	m, err := model.Load(filepath.Join(dir, f.FileName()))
	if err != nil {
		log.Fatal(err)
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		log.Fatal(err)
	}
	tb := inv.Tables[0]
	rows, dim := int(tb.Shape[0]), int(tb.Shape[1])
	const M, K = 4, 16
	c := codes.Codes{Rows: rows, M: M, K: K, Data: make([]uint16, rows*M)}
	for i := range c.Data {
		c.Data[i] = uint16(i % K)
	}
	b := codes.Codebook{M: M, K: K, D: dim, Data: make([]float32, M*K*dim)}
	for i := range b.Data {
		b.Data[i] = float32(i%7) / 8
	}
	rep, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
	if err != nil {
		log.Fatal(err)
	}
	if err := m.Save(filepath.Join(dir, "small.onnx"), model.SaveOptions{}); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s [%d, %d]: %s layout, %d Gather(s), codes %d bytes (%d per byte)\n",
		tb.Name, rows, dim, rep.Layout, rep.Gathers, rep.CodesBytes, rep.CodesPerByte)
	// Output:
	// emb [300, 16]: lookup layout, 1 Gather(s), codes 600 bytes (2 per byte)
}
