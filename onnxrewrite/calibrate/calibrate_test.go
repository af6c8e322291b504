package calibrate_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

const (
	calRows   = 20
	calDim    = 3
	calOffset = 5
)

// calOffsetModel writes a model whose table "emb" [20, 3] is read twice:
// by Gather "shifted" at Add(ids, 5) reshaped to [n], and by Gather
// "direct" at ids2 cast from int32. A second table "pos" [7, 3] reads ids2
// too. The outputs are the three lookups.
func calOffsetModel(t *testing.T) string {
	t.Helper()
	table := func(name string, rows int) *onnxpb.TensorProto {
		raw := make([]byte, 0, 4*rows*calDim)
		for i := range rows * calDim {
			raw = binary.LittleEndian.AppendUint32(raw, math.Float32bits(float32(i)/10))
		}
		return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(rows), calDim}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
	}
	i64 := func(name string, dims []int64, v ...int64) *onnxpb.TensorProto {
		return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(onnxpb.TensorProto_INT64), Int64Data: v}
	}
	gather := func(name, data, ids, out string) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{Name: name, OpType: "Gather", Input: []string{data, ids}, Output: []string{out}}
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
		Graph: &onnxpb.GraphProto{
			Name: "offsets",
			Node: []*onnxpb.NodeProto{
				{Name: "offset", OpType: "Add", Input: []string{"ids", "five"}, Output: []string{"ids_plus"}},
				{Name: "flat", OpType: "Reshape", Input: []string{"ids_plus", "minus_one"}, Output: []string{"ids_flat"}},
				gather("shifted", "emb", "ids_flat", "h1"),
				{Name: "widen", OpType: "Cast", Input: []string{"ids2"}, Output: []string{"ids2_64"},
					Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(onnxpb.TensorProto_INT64)}}},
				gather("direct", "emb", "ids2_64", "h2"),
				gather("position", "pos", "ids2", "p"),
			},
			Initializer: []*onnxpb.TensorProto{table("emb", calRows), table("pos", 7),
				i64("five", nil, calOffset), i64("minus_one", []int64{1}, -1)},
			Input: []*onnxpb.ValueInfoProto{
				fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, "batch", 2),
				fixtures.TensorInfo("ids2", onnxpb.TensorProto_INT32, "n"),
			},
			Output: []*onnxpb.ValueInfoProto{
				fixtures.TensorInfo("h1", onnxpb.TensorProto_FLOAT, "m", calDim),
				fixtures.TensorInfo("h2", onnxpb.TensorProto_FLOAT, "n", calDim),
				fixtures.TensorInfo("p", onnxpb.TensorProto_FLOAT, "n", calDim),
			},
		},
	}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "offsets.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// calHist counts ids into rows buckets, negative ids from the end.
func calHist(rows int64, shift int64, ids ...int64) []int64 {
	h := make([]int64, rows)
	for _, id := range ids {
		r := id + shift
		if r < 0 {
			r += rows
		}
		h[r]++
	}
	return h
}

func calAdd(a, b []int64) []int64 {
	out := slices.Clone(a)
	for i := range b {
		out[i] += b[i]
	}
	return out
}

func TestRowCountsOffsets(t *testing.T) {
	rt := rtkit.Runtime(t)
	m := testkit.Load(t, calOffsetModel(t))
	ids := []int64{0, 1, 14, -5, -20, -25, 3, 3} // after +5: 5 6 19 0 -15 -20 8 8
	ids2 := []int32{-1, 0, 2, 19, -20, 6}
	ids2As64 := []int64{-1, 0, 2, 19, -20, 6}
	inputs := map[string]ort.HostTensor{
		"ids":  {Shape: []int64{4, 2}, Data: ids},
		"ids2": {Shape: []int64{6}, Data: ids2},
	}
	posIDs := []int32{-1, 0, 2, 6, -7, 3}
	posAs64 := []int64{-1, 0, 2, 6, -7, 3}
	cases := []struct {
		name   string
		tables []string
		inputs map[string]ort.HostTensor
		want   map[string][]int64
	}{
		{"one table", []string{"emb"}, inputs, map[string][]int64{
			"emb": calAdd(calHist(calRows, calOffset, ids...), calHist(calRows, 0, ids2As64...)),
		}},
		{"pos only, its own ids", []string{"pos"}, map[string]ort.HostTensor{
			"ids":  {Shape: []int64{1, 2}, Data: []int64{0, 0}},
			"ids2": {Shape: []int64{6}, Data: posIDs},
		}, map[string][]int64{"pos": calHist(7, 0, posAs64...)}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := calibrate.RowCounts(rt, m, c.tables, c.inputs)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("counts\n got %v\nwant %v", got, c.want)
			}
		})
	}
	// ids2 reaches pos too, so counting every table needs ids2 within pos's
	// 7 rows.
	t.Run("every table", func(t *testing.T) {
		ok := map[string]ort.HostTensor{
			"ids":  inputs["ids"],
			"ids2": {Shape: []int64{6}, Data: posIDs},
		}
		got, err := calibrate.RowCounts(rt, m, nil, ok)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string][]int64{
			"emb": calAdd(calHist(calRows, calOffset, ids...), calHist(calRows, 0, posAs64...)),
			"pos": calHist(7, 0, posAs64...),
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("counts\n got %v\nwant %v", got, want)
		}
	})
}

func TestRowCountsErrors(t *testing.T) {
	rt := rtkit.Runtime(t)
	m := testkit.Load(t, calOffsetModel(t))
	good := map[string]ort.HostTensor{
		"ids":  {Shape: []int64{1, 2}, Data: []int64{0, 1}},
		"ids2": {Shape: []int64{2}, Data: []int32{0, 1}},
	}
	cases := []struct {
		name   string
		tables []string
		inputs map[string]ort.HostTensor
		want   string
	}{
		{"unknown table", []string{"nope"}, good, `table "nope"`},
		{"unknown input", nil, map[string]ort.HostTensor{"ids": good["ids"], "ids2": good["ids2"], "extra": good["ids"]}, `no input "extra"`},
		{"missing input", []string{"pos"}, map[string]ort.HostTensor{"ids": good["ids"]}, `needs input "ids2"`},
		{"id out of range", []string{"emb"}, map[string]ort.HostTensor{
			"ids": {Shape: []int64{1, 2}, Data: []int64{0, 1}}, "ids2": {Shape: []int64{1}, Data: []int32{20}}}, "direct"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := calibrate.RowCounts(rt, m, c.tables, c.inputs)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
}

// TestRowCountsIfBranch counts Gathers inside both If branches: their ids
// are the main graph's input, so both count, whichever branch runs, and the
// condition is not needed.
func TestRowCountsIfBranch(t *testing.T) {
	rt := rtkit.Runtime(t)
	var f fixtures.Fixture
	for _, x := range fixtures.All() {
		if x.Name == "if_branch" {
			f = x
		}
	}
	m := testkit.Load(t, testkit.Write(t, f))
	ids := []int64{0, 5, -1, 199, -200, 5}
	got, err := calibrate.RowCounts(rt, m, nil, map[string]ort.HostTensor{
		"ids": {Shape: []int64{2, 3}, Data: ids},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{"outer_emb": calHist(300, 0, ids...), "inner_emb": calHist(200, 0, ids...)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("counts\n got %v\nwant %v", got, want)
	}
}

// TestRowCountsSubgraphIDs refuses a Gather whose ids are computed inside
// the branch.
func TestRowCountsSubgraphIDs(t *testing.T) {
	rt := rtkit.Runtime(t)
	var f fixtures.Fixture
	for _, x := range fixtures.All() {
		if x.Name == "if_branch" {
			f = x
		}
	}
	mp := proto.Clone(f.Model).(*onnxpb.ModelProto)
	var els *onnxpb.GraphProto
	for _, a := range mp.Graph.Node[0].Attribute {
		if a.Name == "else_branch" {
			els = a.G
		}
	}
	els.Node = append([]*onnxpb.NodeProto{{Name: "inner_ids", OpType: "Identity", Input: []string{"ids"}, Output: []string{"ids_inner"}}}, els.Node...)
	els.Node[1].Input[1] = "ids_inner"
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "inner.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m := testkit.Load(t, path)
	in := map[string]ort.HostTensor{"ids": {Shape: []int64{1, 1}, Data: []int64{1}}}
	_, err = calibrate.RowCounts(rt, m, []string{"inner_emb"}, in)
	if err == nil || !strings.Contains(err.Error(), "else_embed") || !strings.Contains(err.Error(), "inside subgraph") {
		t.Fatalf("error %v, want one naming Gather else_embed and its subgraph", err)
	}
	// The other table's Gather reads main-graph ids: it still counts.
	if _, err := calibrate.RowCounts(rt, m, []string{"outer_emb"}, in); err != nil {
		t.Errorf("outer_emb: %v", err)
	}
}

func TestLoadCalibration(t *testing.T) {
	dir := t.TempDir()
	m := testkit.Load(t, calOffsetModel(t))
	write := func(name string, a *npy.Array) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, a); err != nil {
			t.Fatal(err)
		}
		return p
	}
	u8 := write("u8.npy", npy.FromUint8([]int{3, 2}, []uint8{1, 2, 3, 4, 5, 6}))
	i32 := write("i32.npy", npy.FromInt32([]int{2, 2}, []int32{-1, 7, 8, 9}))
	grid := write("grid.npy", npy.FromInt64([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6}))
	wide := write("wide.npy", npy.FromInt64([]int{2}, []int64{1, 1 << 40}))
	flat := write("flat.npy", npy.FromInt64([]int{4}, []int64{1, 2, 3, 4}))
	floats := write("floats.npy", npy.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4}))
	cases := []struct {
		name  string
		specs []string
		want  map[string]ort.HostTensor
		err   string
	}{
		{"named, converted to int64 and int32", []string{"ids=" + u8, "ids2=" + grid}, map[string]ort.HostTensor{
			"ids":  {Shape: []int64{3, 2}, Data: []int64{1, 2, 3, 4, 5, 6}, Elem: model.Int64},
			"ids2": {Shape: []int64{6}, Data: []int32{1, 2, 3, 4, 5, 6}, Elem: model.Int32},
		}, ""},
		{"negative ids kept", []string{"ids=" + i32}, map[string]ort.HostTensor{
			"ids": {Shape: []int64{2, 2}, Data: []int64{-1, 7, 8, 9}, Elem: model.Int64},
		}, ""},
		{"bare file with two integer inputs", []string{u8}, nil, "2 integer inputs"},
		{"unknown input", []string{"nope=" + u8}, nil, `no input "nope"`},
		{"static dim differs", []string{"ids=" + grid}, nil, "dimension 1 is 3, want 2"},
		{"rank differs", []string{"ids=" + flat}, nil, "ranks differ"},
		{"overflows int32", []string{"ids2=" + wide}, nil, "outside input \"ids2\"'s type int32"},
		{"float file", []string{"ids=" + floats}, nil, "must be integers"},
		{"missing file", []string{"ids=" + filepath.Join(dir, "none.npy")}, nil, "none.npy"},
		{"given twice", []string{"ids=" + u8, "ids=" + u8}, nil, "given twice"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := inputs.Load(m, c.specs)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("got %+v, want %+v", got, c.want)
			}
		})
	}
	// A model with one integer input takes a bare file name.
	single := testkit.Load(t, testkit.Write(t, fixtures.All()[0]))
	got, err := inputs.Load(single, []string{u8})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 {
		t.Errorf("bare file: got %+v", got)
	}
}

// Rows read by a fused EmbedLayerNormalization are counted per table: the
// word table at input_ids, the segment table at segment_ids and the
// position table at the positions 0..S-1 the node makes itself; and a
// function call's Gather at the call's argument.
func TestRowCountsFusedAndFunction(t *testing.T) {
	rt := rtkit.Runtime(t)
	f, ok := fixtures.InputRole("roles_embed_layer_norm")
	if !ok {
		t.Fatalf("no InputRoles fixture %q", "roles_embed_layer_norm")
	}
	m := testkit.Load(t, testkit.Write(t, f))
	words, segs := []int32{3, 7, 7, 299, 0, 1, 2, 3}, []int32{0, 1, 1, 1, 0, 0, 0, 1}
	wide := func(v []int32) []int64 {
		out := make([]int64, len(v))
		for i, x := range v {
			out[i] = int64(x)
		}
		return out
	}
	got, err := calibrate.RowCounts(rt, m, nil, map[string]ort.HostTensor{
		"input_ids":      {Shape: []int64{2, 4}, Data: words},
		"segment_ids":    {Shape: []int64{2, 4}, Data: segs},
		"attention_mask": {Shape: []int64{2, 4}, Data: []int32{1, 1, 1, 1, 1, 1, 1, 1}},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]int64{
		"word_embeddings":     calHist(300, 0, wide(words)...),
		"segment_embeddings":  calHist(2, 0, wide(segs)...),
		"position_embeddings": calHist(32, 0, 0, 1, 2, 3, 0, 1, 2, 3),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EmbedLayerNormalization counts\n got %v\nwant %v", got, want)
	}

	fn := testkit.Load(t, fixtures.ZooPath(testkit.RepoRoot(t), "fn_embedding"))
	ids := []int64{5, 5, 30521, 0}
	got, err = calibrate.RowCounts(rt, fn, nil, map[string]ort.HostTensor{"ids": {Shape: []int64{1, 4}, Data: ids}})
	if err != nil {
		t.Fatal(err)
	}
	if want := calHist(30522, 0, ids...); !reflect.DeepEqual(got["emb.weight"], want) {
		t.Errorf("function call: counts differ from the ids given")
	}
}
