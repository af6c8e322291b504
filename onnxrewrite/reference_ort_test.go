//go:build cgo

// This test runs ONNX Runtime, which needs cgo.

package onnxrewrite_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// tiedModel is ids [N] -> Gather(emb [rows, cols]) -> h, and also
// logits = MatMul(h, Transpose(emb)): a table read by a Gather and a tied
// projection.
func tiedModel(opset int64, ir int64, rows, cols int) *onnxpb.ModelProto {
	mp := testkit.GatherModel(opset, rows, cols)
	mp.IrVersion = ir
	g := mp.Graph
	g.Node = append(g.Node,
		&onnxpb.NodeProto{Name: "tr", OpType: "Transpose", Input: []string{"emb"}, Output: []string{"embT"},
			Attribute: []*onnxpb.AttributeProto{{Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 0}}}},
		&onnxpb.NodeProto{Name: "head", OpType: "MatMul", Input: []string{"out", "embT"}, Output: []string{"logits"}})
	g.Output = append(g.Output, fixtures.TensorInfo("logits", onnxpb.TensorProto_FLOAT, "n", rows))
	return mp
}

// TestQuantizeTableInORT checks every reference scheme at several opsets:
// the Gather's output in ONNX Runtime equals the analytically dequantized
// table within 1e-6, and the tied projection reads the same table.
func TestQuantizeTableInORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	const rows, cols = 40, 48 // 48: int4 blocks of 16
	rng := rand.New(rand.NewPCG(3, 4))
	table := make([]float32, rows*cols)
	for i := range table {
		table[i] = float32(rng.NormFloat64())
	}
	table[5*cols+7] = 0 // an exact zero, and row 9 all zeros
	for c := 0; c < cols; c++ {
		table[9*cols+c] = 0
	}
	for _, opset := range []int64{11, 13, 18, 21} {
		for _, scheme := range onnxrewrite.Schemes {
			t.Run(fmt.Sprintf("%s/opset%d", scheme, opset), func(t *testing.T) {
				checkQuantized(t, rt, opset, scheme, table, rows, cols)
			})
		}
	}
}

func checkQuantized(t *testing.T, rt *ort.Runtime, opset int64, scheme onnxrewrite.QuantScheme, table []float32, rows, cols int) {
	dir := t.TempDir()
	src := filepath.Join(dir, "tied.onnx")
	testkit.WriteModel(t, src, tiedModel(opset, 10, rows, cols))
	m := testkit.Load(t, src)
	if err := onnxrewrite.SetTableValues(m, "emb", table); err != nil {
		t.Fatal(err)
	}
	rep, err := onnxrewrite.QuantizeTable(m, "emb", scheme)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s opset %d: %s, %d -> %d bytes, rel sq err %.3g", scheme, opset, rep.Form, rep.TableBytes, rep.StoredBytes, rep.RelSqErr)
	if scheme == onnxrewrite.QuantInt4Block && opset < 21 && !strings.Contains(rep.Form, "unpack") {
		t.Errorf("opset %d: form %q, want the standard-op unpack", opset, rep.Form)
	}
	if rep.StoredBytes >= rep.TableBytes {
		t.Errorf("stored %d bytes, not below the table's %d", rep.StoredBytes, rep.TableBytes)
	}
	if got := m.Opset(); got != opset {
		t.Errorf("opset changed to %d", got)
	}
	path := rtkit.Save(t, m, "q.onnx")
	want, err := onnxrewrite.Dequantized(table, rows, cols, scheme)
	if err != nil {
		t.Fatal(err)
	}
	if e := onnxrewrite.RelSqErr(table, want); math.Abs(e-rep.RelSqErr) > 1e-12 {
		t.Errorf("report rel sq err %g, analytic %g", rep.RelSqErr, e)
	}
	ids := make([]int64, rows)
	for i := range ids {
		ids[i] = int64(i)
	}
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(map[string]ort.HostTensor{"ids": {Shape: []int64{int64(rows)}, Data: ids}})
	if err != nil {
		t.Fatal(err)
	}
	got := out["out"].Data.([]float32)
	for i := range want {
		if math.Abs(float64(got[i]-want[i])) > 1e-6 {
			t.Fatalf("element %d: ORT %g, analytic %g", i, got[i], want[i])
		}
	}
	logits := out["logits"].Data.([]float32)
	for r := 0; r < rows; r++ {
		for v := 0; v < rows; v++ {
			var dot float64
			for c := 0; c < cols; c++ {
				dot += float64(want[r*cols+c]) * float64(want[v*cols+c])
			}
			if d := math.Abs(float64(logits[r*rows+v]) - dot); d > 1e-4*(1+math.Abs(dot)) {
				t.Fatalf("logit [%d, %d]: ORT %g, analytic %g", r, v, logits[r*rows+v], dot)
			}
		}
	}
}
