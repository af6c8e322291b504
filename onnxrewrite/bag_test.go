//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

import (
	"encoding/binary"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// bagCase is ids of some rank -> Gather -> ReduceSum/ReduceMean over a set
// of id axes -> output.
type bagCase struct {
	rank     int
	axes     []int64 // as written in the model
	keepdims int64
	reducer  string
	opset    int64
	unranked bool // ids declared without a shape
}

func (c bagCase) String() string {
	decl := "ranked"
	if c.unranked {
		decl = "unranked"
	}
	return fmt.Sprintf("%s_r%d_axes%v_keep%d_op%d_%s", c.reducer, c.rank, c.axes, c.keepdims, c.opset, decl)
}

func (c bagCase) model() *onnxpb.ModelProto {
	dims := []any{"a", "b", "c"}[:c.rank]
	ids := fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, dims...)
	if c.unranked {
		ids.GetType().GetTensorType().Shape = nil
	}
	red := &onnxpb.NodeProto{Name: "pool", OpType: c.reducer, Input: []string{"h"}, Output: []string{"out"},
		Attribute: []*onnxpb.AttributeProto{{Name: "keepdims", Type: onnxpb.AttributeProto_INT, I: c.keepdims}}}
	inits := []*onnxpb.TensorProto{testkit.FloatTensor("emb", 40, 8, 0.5)}
	if c.reducer == "ReduceSum" || c.opset >= 18 {
		red.Input = append(red.Input, "axes")
		var raw []byte
		for _, a := range c.axes {
			raw = binary.LittleEndian.AppendUint64(raw, uint64(a))
		}
		inits = append(inits, &onnxpb.TensorProto{Name: "axes", Dims: []int64{int64(len(c.axes))}, DataType: int32(onnxpb.TensorProto_INT64), RawData: raw})
	} else {
		red.Attribute = append(red.Attribute, &onnxpb.AttributeProto{Name: "axes", Type: onnxpb.AttributeProto_INTS, Ints: c.axes})
	}
	out := fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT)
	out.GetType().GetTensorType().Shape = nil
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: c.opset}},
		Graph: &onnxpb.GraphProto{
			Name:        "bag",
			Input:       []*onnxpb.ValueInfoProto{ids},
			Output:      []*onnxpb.ValueInfoProto{out},
			Initializer: inits,
			Node: []*onnxpb.NodeProto{
				{Name: "embed", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"h"},
					Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0}}},
				red,
			},
		},
	}
}

// bagCases lists every non-empty set of id axes for ids of rank 1 to 3,
// spelled with positive and with negative axes, for both reducers, both
// keepdims, axes as attribute (opset 17 ReduceMean) or input, ids declared
// with or without a rank.
func bagCases() []bagCase {
	var cs []bagCase
	for rank := 1; rank <= 3; rank++ {
		for set := 1; set < 1<<rank; set++ {
			var pos, neg []int64
			for a := 0; a < rank; a++ {
				if set&(1<<a) != 0 {
					pos = append(pos, int64(a))
					neg = append(neg, int64(a-rank-1))
				}
			}
			for i, red := range []string{"ReduceSum", "ReduceMean"} {
				for keep := int64(0); keep <= 1; keep++ {
					opset := int64(17 + (set+i)%2)
					axes := pos
					if (set+int(keep))%2 == 0 {
						axes = neg
					}
					cs = append(cs, bagCase{rank: rank, axes: axes, keepdims: keep, reducer: red, opset: opset},
						bagCase{rank: rank, axes: neg, keepdims: keep, reducer: red, opset: opset, unranked: true})
				}
			}
		}
	}
	return cs
}

// TestBagForms checks the bag form against the per-token lookup of the same
// codes in ONNX ort.Runtime, for every way of pooling listed by bagCases
// (not with empty inputs: onnxruntime_go cannot pass them). Without a
// declared rank, only the last id axes counted from the end can take the
// bag form.
func TestBagForms(t *testing.T) {
	rt := rtkit.Runtime(t)
	feeds := map[int][]int64{1: {6}, 2: {3, 5}, 3: {2, 3, 4}}
	for ci, c := range bagCases() {
		t.Run(c.String(), func(t *testing.T) {
			dir := t.TempDir()
			src := filepath.Join(dir, "model.onnx")
			testkit.WriteModel(t, src, c.model())
			// 7 codes of 4 values: 4 to a byte, one padding group.
			cs, book := testkit.Codes(40, 7, 4, 8, uint64(ci), 0)
			paths := map[bool]string{}
			for _, noBag := range []bool{false, true} {
				m := testkit.Load(t, src)
				rep, err := onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoBag: noBag})
				if err != nil {
					t.Fatal(err)
				}
				// The axes are ascending: the last id axes iff the last
				// one is the last id axis and they are contiguous.
				first, last := c.axes[0], c.axes[len(c.axes)-1]
				if first < 0 {
					first, last = first+int64(c.rank)+1, last+int64(c.rank)+1
				}
				suffix := last == int64(c.rank-1) && first == int64(c.rank-len(c.axes))
				want := 1
				if noBag || c.unranked && !suffix {
					want = 0
				}
				if rep.Bags != want {
					t.Fatalf("NoBag %v: %d bags, want %d (notes %q)", noBag, rep.Bags, want, rep.Notes)
				}
				if want == 0 && !noBag && (len(rep.Notes) != 1 || !strings.Contains(rep.Notes[0], "rank is unknown")) {
					t.Errorf("notes %q, want one on the unknown rank", rep.Notes)
				}
				paths[noBag] = rtkit.Save(t, m, fmt.Sprintf("bag_%v.onnx", noBag))
			}
			bag, tokens := fxSession(t, rt, paths[false]), fxSession(t, rt, paths[true])
			shape := feeds[c.rank]
			for trial := 0; trial < 2; trial++ {
				ins := []fixtures.Input{{Name: "ids", Elem: onnxpb.TensorProto_INT64, Shape: shape, Low: -40, High: 40}}
				fxCompare(t, bag, tokens, rtkit.Inputs(ins, uint64(ci), trial), 1e-6)
			}
		})
	}
}
