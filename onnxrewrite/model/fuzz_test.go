//go:build cgo

// This test runs the onnx-go check (package validate), which needs cgo.

package model_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// The fuzz targets run their seeds and the regression corpus under
// testdata/fuzz with plain go test; run them for real with
//
//	go test -run xxx -fuzz FuzzLoad -fuzztime 3m -fuzzminimizetime 200ms ./onnxrewrite/
//
// (likewise FuzzExternalData and FuzzRewrite). Keep -fuzzminimizetime
// short: the seeds are whole models of tens of KiB, and with the default
// 60 s every new-coverage input is minimised for a minute, during which the
// exec counter stands still (FuzzRewrite showed 69 execs in 3 minutes that
// way; with 200ms, 306,434 in 4 minutes).

// tensorsOf lists a model's tensors in eachTensor's order.
func tensorsOf(m *model.Model) []*onnxpb.TensorProto {
	var ts []*onnxpb.TensorProto
	m.EachTensor(func(t *onnxpb.TensorProto) { ts = append(ts, t) })
	return ts
}

// sameTensors checks that b holds a's tensors, in order, with identical
// bytes (or the same refusal to give them).
func sameTensors(t *testing.T, a, b *model.Model) {
	t.Helper()
	ta, tb := tensorsOf(a), tensorsOf(b)
	if len(ta) != len(tb) {
		t.Fatalf("%d tensors before the round trip, %d after", len(ta), len(tb))
	}
	for i := range ta {
		ba, errA := a.TensorBytes(ta[i])
		bb, errB := b.TensorBytes(tb[i])
		if (errA == nil) != (errB == nil) {
			t.Fatalf("tensor %d %q: before %v, after %v", i, ta[i].Name, errA, errB)
		}
		if !bytes.Equal(ba, bb) {
			t.Fatalf("tensor %d %q: bytes differ after the round trip", i, ta[i].Name)
		}
	}
}

func marshalDet(t *testing.T, mp *onnxpb.ModelProto) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkNoTemps fails if dir holds a temporary file left by Save.
func checkNoTemps(t *testing.T, dir string) {
	t.Helper()
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".tmp") {
			t.Fatalf("temporary file %s left in %s", e.Name(), dir)
		}
	}
}

// FuzzLoad feeds Load arbitrary model bytes with a data file beside them.
// Load must not panic; a model it accepts must survive FindTables, a save
// (which leaves the loaded model as it was) and a reload with every
// tensor's bytes intact.
func FuzzLoad(f *testing.F) {
	models, data := testkit.FuzzSeeds(f)
	for i := range models {
		f.Add(models[i], data[i])
	}
	f.Add([]byte{}, []byte{})
	f.Add([]byte("{\"graph\": {}}"), []byte{})
	for _, b := range hostileNameSeeds(f) {
		f.Add(b, []byte{})
	}
	f.Fuzz(func(t *testing.T, mb, data []byte) {
		if len(mb) > 1<<20 || len(data) > 1<<20 {
			return
		}
		path := testkit.WriteFuzzModel(t, mb, data)
		m, err := model.Load(path)
		if err != nil {
			if m != nil {
				t.Fatal("Load returned a model and an error")
			}
			if !strings.Contains(err.Error(), "model.onnx") {
				t.Fatalf("error %q does not name the file", err)
			}
			return
		}
		_, _ = onnxrewrite.FindTables(m)
		_ = model.CheckDataflow(m)
		before := marshalDet(t, m.Proto)
		outDir := t.TempDir()
		out := filepath.Join(outDir, "out.onnx")
		if err := m.Save(out, model.SaveOptions{}); err != nil {
			t.Fatalf("Save of a loaded model: %v", err)
		}
		if !bytes.Equal(before, marshalDet(t, m.Proto)) {
			t.Fatal("Save changed the loaded model")
		}
		testkit.CheckUnchanged(t, path, mb, data)
		checkNoTemps(t, outDir)
		// The rewrite command checks every output with CheckGraph; it
		// must not panic on anything Save writes.
		_ = validate.CheckGraph(out)
		m2, err := model.Load(out)
		if err != nil {
			t.Fatalf("reloading the saved model: %v", err)
		}
		sameTensors(t, m, m2)
	})
}

// FuzzExternalData fuzzes one tensor's external_data entries and the size
// of the file they point at. Load must refuse with an error naming the
// tensor, or accept a location inside the model's folder whose bytes are
// the ones TensorBytes returns.
func FuzzExternalData(f *testing.F) {
	f.Add("w.data", "0", "32", true, true, uint16(32), uint8(2), uint8(4))
	f.Add("w.data", "", "", false, false, uint16(32), uint8(2), uint8(4))
	f.Add("w.data", "4096", "32", true, true, uint16(5000), uint8(2), uint8(4))
	f.Add("w.data", "-1", "32", true, true, uint16(64), uint8(2), uint8(4))
	f.Add("w.data", "9223372036854775807", "32", true, true, uint16(64), uint8(2), uint8(4))
	f.Add("w.data", "8", "9223372036854775800", true, true, uint16(64), uint8(1), uint8(1))
	f.Add("w.data", "0", "31", true, true, uint16(32), uint8(2), uint8(4))
	f.Add("w.data", "0x10", "32", true, true, uint16(64), uint8(2), uint8(4))
	f.Add("w.data", " 1", "+32", true, true, uint16(64), uint8(2), uint8(4))
	f.Add("sub/w.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("sub/../w.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("./w.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("../outside.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("sub/../../outside.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("link.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("inlink.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("sublink/w.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("/etc/passwd", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add(`\w.data`, "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("sub", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add(".", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("w.data\x00x", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Add("missing.data", "0", "", true, false, uint16(32), uint8(2), uint8(4))
	f.Fuzz(func(t *testing.T, loc, offset, length string, hasOffset, hasLength bool, size uint16, rows, cols uint8) {
		root := t.TempDir()
		dir := filepath.Join(root, "model")
		for _, d := range []string{dir, filepath.Join(dir, "sub")} {
			if err := os.Mkdir(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		content := make([]byte, size)
		for i := range content {
			content[i] = byte(i*7 + 3)
		}
		outside := bytes.Repeat([]byte{0xee}, 1<<16)
		files := map[string][]byte{
			filepath.Join(dir, "w.data"):        content,
			filepath.Join(dir, "sub", "w.data"): content,
			filepath.Join(root, "outside.data"): outside,
		}
		for p, b := range files {
			if err := os.WriteFile(p, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for link, target := range map[string]string{
			"link.data":   "../outside.data",
			"inlink.data": "w.data",
			"sublink":     "..",
		} {
			if err := os.Symlink(target, filepath.Join(dir, link)); err != nil {
				t.Fatal(err)
			}
		}
		ext := []*onnxpb.StringStringEntryProto{{Key: "location", Value: loc}}
		if hasOffset {
			ext = append(ext, &onnxpb.StringStringEntryProto{Key: "offset", Value: offset})
		}
		if hasLength {
			ext = append(ext, &onnxpb.StringStringEntryProto{Key: "length", Value: length})
		}
		mp := &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}, Graph: &onnxpb.GraphProto{
			Name: "g",
			Initializer: []*onnxpb.TensorProto{{Name: "emb", Dims: []int64{int64(rows), int64(cols)}, DataType: int32(model.Float32),
				DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: ext}},
			Node: []*onnxpb.NodeProto{{Name: "lookup", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"out"}}},
		}}
		b, err := proto.Marshal(mp)
		if err != nil {
			return // a location that is not valid UTF-8
		}
		path := filepath.Join(dir, "model.onnx")
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := model.Load(path)
		defer func() {
			for p, want := range files {
				if got, _ := os.ReadFile(p); !bytes.Equal(got, want) {
					t.Fatalf("%s changed", p)
				}
			}
		}()
		if err != nil {
			if !strings.Contains(err.Error(), `tensor "emb"`) || !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name the file and the tensor", err)
			}
			return
		}
		tp := m.Proto.Graph.Initializer[0]
		l, ok := model.ExtLocation(m, tp)
		if !ok {
			t.Fatal("Load accepted an external tensor without resolving it")
		}
		realDir, err := filepath.EvalSymlinks(dir)
		if err != nil {
			t.Fatal(err)
		}
		rel, err := filepath.Rel(realDir, l.File)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
			t.Fatalf("location %q resolved to %s, outside %s", loc, l.File, realDir)
		}
		want := int64(rows) * int64(cols) * 4
		if l.Length != want {
			t.Fatalf("resolved length %d, the shape needs %d", l.Length, want)
		}
		got, err := m.TensorBytes(tp)
		if err != nil {
			t.Fatalf("TensorBytes after a successful Load: %v", err)
		}
		file, err := os.ReadFile(l.File)
		if err != nil {
			t.Fatal(err)
		}
		if l.Offset+l.Length > int64(len(file)) || !bytes.Equal(got, file[l.Offset:l.Offset+l.Length]) {
			t.Fatalf("TensorBytes does not match %s at offset %d", l.File, l.Offset)
		}
		if hasOffset {
			if o, err := strconv.ParseInt(offset, 10, 64); err != nil || o != l.Offset {
				t.Fatalf("offset %q resolved to %d", offset, l.Offset)
			}
		}
	})
}

// TestCheckDataflow accepts every fixture and refuses broken wiring with
// the graph and node named.
func TestCheckDataflow(t *testing.T) {
	models, data := testkit.FuzzSeeds(t)
	for i := range models {
		m, err := model.Load(testkit.WriteFuzzModel(t, models[i], data[i]))
		if err != nil {
			t.Fatal(err)
		}
		if err := model.CheckDataflow(m); err != nil {
			t.Errorf("fixture %d: %v", i, err)
		}
	}
	node := func(name, op string, in, out []string, sub ...*onnxpb.GraphProto) *onnxpb.NodeProto {
		n := &onnxpb.NodeProto{Name: name, OpType: op, Input: in, Output: out}
		for i, g := range sub {
			n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: []string{"then_branch", "else_branch"}[i], Type: onnxpb.AttributeProto_GRAPH, G: g})
		}
		return n
	}
	vi := func(name string) *onnxpb.ValueInfoProto { return &onnxpb.ValueInfoProto{Name: name} }
	cases := []struct {
		name  string
		nodes []*onnxpb.NodeProto
		outs  []string
		want  string // "" for a graph that must pass
	}{
		{"in order", []*onnxpb.NodeProto{node("a", "Neg", []string{"x"}, []string{"y"}), node("b", "Neg", []string{"y"}, []string{"z"})}, []string{"z"}, ""},
		{"out of order", []*onnxpb.NodeProto{node("b", "Neg", []string{"y"}, []string{"z"}), node("a", "Neg", []string{"x"}, []string{"y"})}, []string{"z"}, ""},
		{"optional input", []*onnxpb.NodeProto{node("a", "Clip", []string{"x", "", "x"}, []string{"y"})}, []string{"y"}, ""},
		{"undefined", []*onnxpb.NodeProto{node("a", "Add", []string{"x", "ghost"}, []string{"y"})}, []string{"y"}, `graph main: node "a" (Add) reads "ghost", which nothing defines`},
		{"self loop", []*onnxpb.NodeProto{node("a", "Add", []string{"x", "y"}, []string{"y"})}, []string{"y"}, `node "a" (Add) is on a cycle`},
		{"cycle", []*onnxpb.NodeProto{node("a", "Add", []string{"x", "z"}, []string{"y"}), node("b", "Neg", []string{"y"}, []string{"z"}),
			node("c", "Neg", []string{"z"}, []string{"w"})}, []string{"w"}, "is on a cycle"},
		{"written twice", []*onnxpb.NodeProto{node("a", "Neg", []string{"x"}, []string{"y"}), node("b", "Neg", []string{"x"}, []string{"y"})}, []string{"y"}, `node "b" (Neg) writes "y", which node "a" (Neg) writes too`},
		{"overwrites an input", []*onnxpb.NodeProto{node("a", "Neg", []string{"x"}, []string{"x"})}, []string{"x"}, "is a graph input"},
		{"output undefined", []*onnxpb.NodeProto{node("a", "Neg", []string{"x"}, []string{"y"})}, []string{"q"}, `output "q"`},
		{"subgraph reads outer", []*onnxpb.NodeProto{node("a", "Neg", []string{"x"}, []string{"y"}),
			node("if", "If", []string{"c"}, []string{"z"},
				&onnxpb.GraphProto{Node: []*onnxpb.NodeProto{node("t", "Neg", []string{"y"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{vi("t_out")}},
				&onnxpb.GraphProto{Output: []*onnxpb.ValueInfoProto{vi("x")}})}, []string{"z"}, ""},
		{"subgraph reads undefined", []*onnxpb.NodeProto{node("if", "If", []string{"c"}, []string{"z"},
			&onnxpb.GraphProto{Node: []*onnxpb.NodeProto{node("t", "Neg", []string{"nope"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{vi("t_out")}})},
			[]string{"z"}, `graph main/if.then_branch: node "t" (Neg) reads "nope"`},
		{"subgraph reads its node's output", []*onnxpb.NodeProto{node("if", "If", []string{"c"}, []string{"z"},
			&onnxpb.GraphProto{Node: []*onnxpb.NodeProto{node("t", "Neg", []string{"z"}, []string{"t_out"})}, Output: []*onnxpb.ValueInfoProto{vi("t_out")}})},
			[]string{"z"}, `node "if" (If) is on a cycle`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var outs []*onnxpb.ValueInfoProto
			for _, o := range c.outs {
				outs = append(outs, vi(o))
			}
			m := &model.Model{Path: "m.onnx", Proto: &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
				Input: []*onnxpb.ValueInfoProto{vi("x"), vi("c")}, Node: c.nodes, Output: outs}}}
			err := model.CheckDataflow(m)
			switch {
			case c.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case c.want != "" && err == nil:
				t.Fatal("accepted")
			case c.want != "" && !strings.Contains(err.Error(), c.want):
				t.Fatalf("error %q does not say %q", err, c.want)
			}
		})
	}
}

// flipCtx reports cancellation from its n-th look on.
type flipCtx struct {
	context.Context
	looks, n int
}

func (c *flipCtx) Err() error {
	c.looks++
	if c.looks >= c.n {
		return context.Canceled
	}
	return nil
}

// TestSaveContextCancelled cancels a save at each point it looks at its
// context: no output, no temporary file, the model as loaded.
func TestSaveContextCancelled(t *testing.T) {
	models, data := testkit.FuzzSeeds(t)
	var mb, d []byte
	for i := range data {
		if len(data[i]) > 0 {
			mb, d = models[i], data[i]
		}
	}
	m, err := model.Load(testkit.WriteFuzzModel(t, mb, d))
	if err != nil {
		t.Fatal(err)
	}
	before := marshalDet(t, m.Proto)
	for n := 1; ; n++ {
		dir := t.TempDir()
		ctx := &flipCtx{Context: context.Background(), n: n}
		err := m.SaveContext(ctx, filepath.Join(dir, "out.onnx"), model.SaveOptions{})
		if err == nil {
			if n == 1 {
				t.Fatal("a save cancelled from the start succeeded")
			}
			break // n-1 looks cancelled at every point
		}
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "interrupted") {
			t.Fatalf("look %d: %v", n, err)
		}
		if ents, _ := os.ReadDir(dir); len(ents) != 0 {
			t.Fatalf("look %d: %d files left in the output folder", n, len(ents))
		}
		if !bytes.Equal(before, marshalDet(t, m.Proto)) {
			t.Fatalf("look %d: the cancelled save changed the model", n)
		}
	}
}
