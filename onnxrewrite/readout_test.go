package onnxrewrite_test

import (
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// The readouts real exports use: FindReadout follows the rows through
// masked pooling, token selection, Casts and constants held by Constant
// nodes, and says why where it cannot.
func TestFindReadoutForms(t *testing.T) {
	root := testkit.RepoRoot(t)
	zoo := func(name string) *model.Model { return testkit.Load(t, fixtures.ZooPath(root, name)) }
	cases := []struct {
		name  string
		m     func() *model.Model
		table string
		want  []string // in the paths, or in the reason when found is false
		found bool
	}{
		{"masked mean, float mask (torch)", func() *model.Model { return zoo("fasttext_mask") }, "emb.weight",
			[]string{"Mul /Mul (by a per-row value) -> ReduceSum /ReduceSum -> Div /Div (by a per-row value) -> Gemm /fc1/Gemm (fc1.weight)"}, true},
		{"float16 constant and Cast (torch)", func() *model.Model { return zoo("fp16_table") }, "emb.weight",
			[]string{"Mul /Mul -> Cast /Cast -> ReduceMean /ReduceMean -> Gemm /fc/Gemm"}, true},
		{"first token", func() *model.Model { return tokenPick(t, "Gather", 1) }, "emb", []string{"Gather pick -> MatMul head (w)"}, true},
		{"token slice", func() *model.Model { return tokenPick(t, "Slice", 1) }, "emb", []string{"Slice pick -> MatMul head (w)"}, true},
		{"gather along the embedding axis", func() *model.Model { return tokenPick(t, "Gather", -1) }, "emb", []string{"gathers along the embedding axis"}, false},
		{"slice of the embedding axis", func() *model.Model { return tokenPick(t, "Slice", 2) }, "emb", []string{"slices the embedding axis"}, false},
		{"a norm", func() *model.Model { return zoo("bert_mean") }, "word.weight", []string{"ReduceMean /ln/ReduceMean may reduce over the embedding axis"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := c.m()
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := inv.Table(c.table)
			if err != nil {
				t.Fatal(err)
			}
			ro, why, err := onnxrewrite.FindReadout(m, tb)
			if err != nil {
				t.Fatal(err)
			}
			got := why
			if ro != nil {
				got = strings.Join(ro.Paths, "; ")
			}
			if (ro != nil) != c.found {
				t.Fatalf("readout %v (%s), want found %v", ro != nil, got, c.found)
			}
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%q, want it to contain %q", got, w)
				}
			}
		})
	}
}

// tokenPick is ids [2, 5] -> Gather(emb [40, 4]) -> Gather (index 0, a
// Constant) or Slice [0:1] along axis -> MatMul with w [4, 3].
func tokenPick(t *testing.T, op string, axis int64) *model.Model {
	mp := testkit.GatherModel(13, 40, 4)
	g := mp.Graph
	g.Input[0] = fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, 2, 5)
	g.Node[0].Output[0] = "rows"
	i64 := func(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
		raw := make([]byte, 8*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(x))
		}
		return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_INT64), RawData: raw}
	}
	pick := &onnxpb.NodeProto{Name: "pick", OpType: op, Output: []string{"picked"}}
	if op == "Gather" {
		g.Node = append(g.Node, &onnxpb.NodeProto{Name: "zero", OpType: "Constant", Output: []string{"zero"},
			Attribute: []*onnxpb.AttributeProto{{Name: "value", Type: onnxpb.AttributeProto_TENSOR, T: i64("", nil, 0)}}})
		pick.Input = []string{"rows", "zero"}
		pick.Attribute = []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: axis}}
	} else {
		g.Initializer = append(g.Initializer, i64("starts", []int64{1}, 0), i64("ends", []int64{1}, 1), i64("axes", []int64{1}, axis))
		pick.Input = []string{"rows", "starts", "ends", "axes"}
	}
	g.Initializer = append(g.Initializer, testkit.FloatTensor("w", 4, 3, 0.5))
	g.Node = append(g.Node, pick, &onnxpb.NodeProto{Name: "head", OpType: "MatMul", Input: []string{"picked", "w"}, Output: []string{"out"}})
	g.Output[0] = &onnxpb.ValueInfoProto{Name: "out"}
	path := filepath.Join(t.TempDir(), "pick.onnx")
	testkit.WriteModel(t, path, mp)
	return testkit.Load(t, path)
}
