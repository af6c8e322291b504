//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// FuzzRewrite: run for real with
//
//	go test -run xxx -fuzz FuzzRewrite -fuzztime 240s -fuzzminimizetime 200ms ./onnxrewrite/
//
// (see onnxrewrite/model/fuzz_test.go on -fuzzminimizetime).

// FuzzRewrite rewrites the largest table of a fuzzed model with random
// codes. Rewrite must not panic; when it succeeds, the model must save,
// pass validate.CheckGraph or fail it with an error, and reload.
func FuzzRewrite(f *testing.F) {
	models, data := testkit.FuzzSeeds(f)
	for i := range models {
		f.Add(models[i], data[i], uint64(i), uint8(2), uint8(16))
	}
	f.Fuzz(func(t *testing.T, mb, data []byte, seed uint64, mGroups, k uint8) {
		if len(mb) > 1<<20 || len(data) > 1<<20 {
			return
		}
		path := testkit.WriteFuzzModel(t, mb, data)
		m, err := model.Load(path)
		if err != nil {
			return
		}
		inv, err := onnxrewrite.FindTables(m)
		if err != nil || len(inv.Tables) == 0 {
			return
		}
		tb := inv.Tables[0]
		rows, dim := tb.Shape[0], tb.Shape[1]
		if rows < 0 || dim < 0 || rows*dim > 1<<16 || rows > 1<<14 || dim > 1<<10 {
			return
		}
		M := 1 + int(mGroups%4)
		K := 2 + int(k%64)
		r := rand.New(rand.NewPCG(seed, 7))
		c := codes.Codes{Rows: int(rows), M: M, K: K, Data: make([]uint16, int(rows)*M)}
		for i := range c.Data {
			c.Data[i] = uint16(r.IntN(K))
		}
		b := codes.Codebook{M: M, K: K, D: int(dim), Data: make([]float32, M*K*int(dim))}
		for i := range b.Data {
			b.Data[i] = float32(r.NormFloat64())
		}
		if err := model.CheckDataflow(m); err != nil {
			return // the rewrite command refuses such a model first
		}
		if _, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}); err != nil {
			return
		}
		out := filepath.Join(t.TempDir(), "out.onnx")
		if err := m.Save(out, model.SaveOptions{Check: validate.CheckGraph}); err != nil {
			var pe *model.CheckPanic
			if errors.As(err, &pe) {
				t.Fatal(err)
			}
			return
		}
		testkit.CheckUnchanged(t, path, mb, data)
		m2, err := model.Load(out)
		if err != nil {
			t.Fatalf("reloading the rewritten model: %v", err)
		}
		inv2, err := onnxrewrite.FindTables(m2)
		if err != nil {
			t.Fatal(err)
		}
		for _, t2 := range inv2.Tables {
			if t2.Name == tb.Name && t2.Graph == tb.Graph && len(tb.OtherUses) == 0 {
				t.Fatalf("table %q is still read by a Gather after its rewrite", tb.Name)
			}
		}
	})
}
