//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

import (
	"math"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

func opTypes(g *onnxpb.GraphProto) []string {
	var s []string
	for _, n := range g.Node {
		s = append(s, n.OpType)
	}
	return s
}

// checkSorted fails when a node reads a value no graph input, initializer
// or earlier node defines.
func checkSorted(t *testing.T, g *onnxpb.GraphProto) {
	t.Helper()
	defined := map[string]bool{"": true}
	for _, in := range g.Input {
		defined[in.Name] = true
	}
	for _, i := range g.Initializer {
		defined[i.Name] = true
	}
	for _, n := range g.Node {
		for _, in := range n.Input {
			if !defined[in] {
				t.Errorf("node %s (%s) reads %q before it is defined", n.Name, n.OpType, in)
			}
		}
		for _, o := range n.Output {
			defined[o] = true
		}
	}
}

func TestRewriteEmitsTheOpsetsForm(t *testing.T) {
	const lookup = "Gather,Cast,Add,Gather,ReduceSum"
	const groupBook = "Cast,Add,Gather,ReduceSum,Reshape," // packed codes: built at load
	cases := []struct {
		opset     int64
		k         int
		axesInput bool
		codesType onnxpb.TensorProto_DataType
		ops       string
	}{
		{11, 16, false, onnxpb.TensorProto_UINT8, groupBook + lookup},
		{12, 256, false, onnxpb.TensorProto_UINT8, lookup},
		{13, 257, true, onnxpb.TensorProto_UINT16, lookup},
		{18, 4, true, onnxpb.TensorProto_UINT8, groupBook + lookup},
		{21, 65536, true, onnxpb.TensorProto_UINT16, lookup},
	}
	for _, c := range cases {
		t.Run("opset"+strconv.Itoa(int(c.opset)), func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "m.onnx")
			testkit.WriteModel(t, path, testkit.GatherModel(c.opset, 40, 6))
			m, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			cs, book := testkit.Codes(40, 4, c.k, 6, 1, 0)
			rep, err := onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Gathers != 1 || rep.Table != "emb" || rep.Layout != onnxrewrite.LayoutLookup {
				t.Errorf("report %+v: want table emb looked up at 1 Gather", rep)
			}
			g := m.Proto.Graph
			if got := strings.Join(opTypes(g), ","); got != c.ops {
				t.Errorf("nodes %s, want %s", got, c.ops)
			}
			sum := g.Node[len(g.Node)-1]
			var hasAxesAttr bool
			for _, a := range sum.Attribute {
				if a.Name == "axes" {
					hasAxesAttr = true
					if len(a.Ints) != 1 || a.Ints[0] != -2 {
						t.Errorf("axes attribute %v", a.Ints)
					}
				}
			}
			if hasAxesAttr == c.axesInput || (len(sum.Input) == 2) != c.axesInput {
				t.Errorf("opset %d: ReduceSum inputs %v, axes attribute %v", c.opset, sum.Input, hasAxesAttr)
			}
			if sum.Output[0] != "out" {
				t.Errorf("the last node writes %q, want the Gather's output", sum.Output[0])
			}
			for _, init := range g.Initializer {
				if init.Name == "emb" {
					t.Error("the table is still an initializer")
				}
				if strings.HasSuffix(init.Name, ".codes") && onnxpb.TensorProto_DataType(init.DataType) != c.codesType {
					t.Errorf("codes stored as %v, want %v", onnxpb.TensorProto_DataType(init.DataType), c.codesType)
				}
			}
			checkSorted(t, g)
			out := filepath.Join(dir, "out.onnx")
			if err := m.Save(out, model.SaveOptions{Check: validate.CheckGraph}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRewriteAvoidsNameCollisions(t *testing.T) {
	mp := testkit.GatherModel(13, 10, 4)
	g := mp.Graph
	// Names a naive rewrite would pick are taken already.
	g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "emb.codes", Dims: []int64{1}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: make([]byte, 4)})
	g.Node = append(g.Node, &onnxpb.NodeProto{Name: "lookup/codes", OpType: "Identity", Input: []string{"emb.codes"}, Output: []string{"out.codes"}})
	g.Output = append(g.Output, fixtures.TensorInfo("out.codes", onnxpb.TensorProto_FLOAT, 1))
	path := filepath.Join(t.TempDir(), "m.onnx")
	testkit.WriteModel(t, path, mp)
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	cs, book := testkit.Codes(10, 2, 4, 4, 2, 0)
	if _, err := onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Table: "emb", Layout: onnxrewrite.LayoutLookup}); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, i := range m.Proto.Graph.Initializer {
		if prev, ok := seen[i.Name]; ok {
			t.Errorf("name %q used by %s and an initializer", i.Name, prev)
		}
		seen[i.Name] = "initializer"
	}
	nodeNames := map[string]bool{}
	for _, n := range m.Proto.Graph.Node {
		if nodeNames[n.Name] {
			t.Errorf("two nodes named %q", n.Name)
		}
		nodeNames[n.Name] = true
		for _, o := range n.Output {
			if _, ok := seen[o]; ok {
				t.Errorf("value %q defined twice", o)
			}
			seen[o] = n.Name
		}
	}
	checkSorted(t, m.Proto.Graph)
}

func TestRewriteRejects(t *testing.T) {
	good := func() (codes.Codes, codes.Codebook) { return testkit.Codes(20, 2, 4, 5, 3, 0) }
	cases := []struct {
		name   string
		opset  int64
		table  string
		change func(c *codes.Codes, b *codes.Codebook)
		want   string
	}{
		{"old opset", 10, "", nil, "opset 10 is not supported"},
		{"unknown table", 13, "nope", nil, `table "nope": not found`},
		{"too few rows", 13, "", func(c *codes.Codes, b *codes.Codebook) { c.Rows = 19; c.Data = c.Data[:38] }, "codes have 19 rows, the table has 20"},
		{"code out of range", 13, "", func(c *codes.Codes, b *codes.Codebook) { c.Data[7] = 4 }, "row 3 group 1 holds 4"},
		{"wrong width", 13, "", func(c *codes.Codes, b *codes.Codebook) { b.D = 4; b.Data = b.Data[:32] }, "codebook rows have 4 values"},
		{"NaN in codebook", 13, "", func(c *codes.Codes, b *codes.Codebook) { b.Data[11] = float32(math.NaN()) }, "row 2 column 1 is NaN"},
		{"K of 1", 13, "", func(c *codes.Codes, b *codes.Codebook) { c.K, b.K = 1, 1 }, "need M >= 1 and 2 <= K"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.onnx")
			testkit.WriteModel(t, path, testkit.GatherModel(c.opset, 20, 5))
			m, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			cs, book := good()
			if c.change != nil {
				c.change(&cs, &book)
			}
			_, err = onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Table: c.table, Layout: onnxrewrite.LayoutLookup})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
			if !strings.Contains(err.Error(), "m.onnx") {
				t.Errorf("error %q does not name the model file", err)
			}
		})
	}
}

func TestDecodeSumsGroups(t *testing.T) {
	c := codes.Codes{Rows: 2, M: 2, K: 2, Data: []uint16{0, 1, 1, 0}}
	b := codes.Codebook{M: 2, K: 2, D: 2, Data: []float32{
		1, 2, // group 0 code 0
		3, 4, // group 0 code 1
		10, 20, // group 1 code 0
		30, 40, // group 1 code 1
	}}
	got := codes.Decode(c, b)
	want := []float32{31, 42, 13, 24}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Decode = %v, want %v", got, want)
		}
	}
}

func TestCheckGraphFindsUndefinedValues(t *testing.T) {
	mp := testkit.GatherModel(13, 10, 4)
	mp.Graph.Node[0].Input[1] = "no_such_ids"
	path := filepath.Join(t.TempDir(), "bad.onnx")
	testkit.WriteModel(t, path, mp)
	err := validate.CheckGraph(path)
	if err == nil || !strings.Contains(err.Error(), `"no_such_ids"`) {
		t.Fatalf("CheckGraph = %v, want an error naming no_such_ids", err)
	}
	good := filepath.Join(t.TempDir(), "good.onnx")
	testkit.WriteModel(t, good, testkit.GatherModel(13, 10, 4))
	if err := validate.CheckGraph(good); err != nil {
		t.Fatal(err)
	}
}

// Packed codes take M*log2(K) bits per row: the codes tensor holds exactly
// ceil(V*M*log2(K)/8) bytes when P codes fill each byte (and rows take whole
// bytes otherwise).
func TestPackedCodeBytes(t *testing.T) {
	cases := []struct {
		rows, m, k int
		want       int64
	}{
		{40, 8, 16, 40 * 8 * 4 / 8},
		{40, 8, 4, 40 * 8 * 2 / 8},
		{40, 8, 2, 40 * 8 * 2 / 8}, // K=2 packs 4 a byte, 2 bits each
		{40, 6, 256, 40 * 6},
		{40, 7, 16, 40 * 4},      // odd M: each row ends with half a byte
		{40, 3, 300, 40 * 3 * 2}, // uint16
	}
	for _, c := range cases {
		path := filepath.Join(t.TempDir(), "m.onnx")
		testkit.WriteModel(t, path, testkit.GatherModel(13, c.rows, 6))
		m, err := model.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		cs, book := testkit.Codes(c.rows, c.m, c.k, 6, 4, 0)
		rep, err := onnxrewrite.RewriteTable(m, cs, book, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
		if err != nil {
			t.Fatal(err)
		}
		if rep.CodesBytes != c.want {
			t.Errorf("V=%d M=%d K=%d: codes take %d bytes, want %d", c.rows, c.m, c.k, rep.CodesBytes, c.want)
		}
	}
}

// A table that is also a graph input stops being one; the report says so,
// and says that an IR 3 model's new initializers became inputs.
func TestRewriteNotesSignature(t *testing.T) {
	seen := 0
	for _, f := range fixtures.All() {
		if !f.GraphInput {
			continue
		}
		seen++
		m, tb := loadFixtureTable(t, f)
		c, b := testkit.Codes(int(tb.Shape[0]), 2, 16, int(tb.Shape[1]), 1, 0)
		rep, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: f.Table})
		if err != nil {
			t.Fatal(err)
		}
		notes := strings.Join(rep.Notes, "\n")
		if !strings.Contains(notes, "is no longer an input") || (m.Proto.IrVersion < 4 && !strings.Contains(notes, "declared as graph inputs")) {
			t.Errorf("%s: notes %q do not say how the inputs changed", f.Name, rep.Notes)
		}
		for _, in := range m.Proto.Graph.Input {
			if in.Name == f.Table {
				t.Errorf("%s: %s is still a graph input", f.Name, f.Table)
			}
		}
	}
	if seen == 0 {
		t.Fatal("no fixture has a table that is also a graph input")
	}
}
