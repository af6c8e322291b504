//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

// Tests over the fixtures package's models (one per rewrite rule): table
// discovery, lossless round trips, and rewrites checked in ONNX ort.Runtime
// against a dense reference; then the same on the real models in ../shared
// when that folder exists.
//
// Helpers here are prefixed with fx so as not to collide with the package's
// other external tests.

import (
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

func TestFixtureFindTables(t *testing.T) {
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			m := testkit.Load(t, testkit.Write(t, f))
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, tb := range inv.Tables {
				got = append(got, tb.Name)
			}
			if !slices.Equal(got, f.Tables) {
				t.Errorf("tables %q, want %q", got, f.Tables)
			}
			for _, not := range f.NotTables {
				if slices.Contains(got, not) {
					t.Errorf("%q is reported as a table; it is not an embedding lookup", not)
				}
			}
			for _, tb := range inv.Tables {
				if tb.Name != f.Table {
					continue
				}
				if f.Kept != (len(tb.OtherUses) > 0) {
					t.Errorf("table %q: other uses %+v, want some: %v", tb.Name, tb.OtherUses, f.Kept)
				}
				if f.Kept && tb.OtherUses[0].Kind != "tied_projection" {
					t.Errorf("table %q: use %+v, want a tied_projection", tb.Name, tb.OtherUses[0])
				}
				if ext := len(f.External) > 0; tb.External != ext {
					t.Errorf("table %q: External %v, want %v", tb.Name, tb.External, ext)
				}
				if tb.Name == f.Table && f.Source != "" && tb.Source != f.Source {
					t.Errorf("table %q: source %q, want %s", tb.Name, tb.Source, f.Source)
				}
				if tb.Name == f.Table && f.GraphInput && !tb.GraphInput {
					t.Errorf("table %q: GraphInput false, it is listed as a graph input", tb.Name)
				}
				if g, ok := f.Graphs[tb.Name]; ok && !strings.Contains(tb.Graph, g) {
					t.Errorf("%s is defined in graph %q, want one in %s", tb.Name, tb.Graph, g)
				}
			}
		})
	}
}

// fxTensor is one tensor of a model, as the round-trip test compares it.
type fxTensor struct {
	where    string
	bytes    []byte
	external bool
}

// fxTensors lists every tensor of a model (initializers and attribute
// tensors, subgraphs and functions included) in a fixed order.
func fxTensors(t *testing.T, m *model.Model) []fxTensor {
	t.Helper()
	var out []fxTensor
	add := func(where string, tp *onnxpb.TensorProto) {
		b, err := m.TensorBytes(tp)
		if err != nil {
			t.Fatalf("%s: %v", where, err)
		}
		out = append(out, fxTensor{where, slices.Clone(b), tp.DataLocation == onnxpb.TensorProto_EXTERNAL})
	}
	fxEachTensor(m.Proto, add)
	return out
}

// fxEachTensor calls fn on every tensor of the model with a name saying
// where it is.
func fxEachTensor(mp *onnxpb.ModelProto, fn func(where string, t *onnxpb.TensorProto)) {
	var graph func(path string, g *onnxpb.GraphProto)
	nodes := func(path string, ns []*onnxpb.NodeProto) {
		for i, n := range ns {
			for _, a := range n.Attribute {
				p := fmt.Sprintf("%s/node%d(%s).%s", path, i, n.Name, a.Name)
				if a.T != nil {
					fn(p, a.T)
				}
				for j, tp := range a.Tensors {
					fn(fmt.Sprintf("%s[%d]", p, j), tp)
				}
				if a.G != nil {
					graph(p, a.G)
				}
				for j, g := range a.Graphs {
					graph(fmt.Sprintf("%s[%d]", p, j), g)
				}
			}
		}
	}
	graph = func(path string, g *onnxpb.GraphProto) {
		for _, tp := range g.Initializer {
			fn(path+"/init:"+tp.Name, tp)
		}
		nodes(path, g.Node)
	}
	graph("main", mp.Graph)
	for _, f := range mp.Functions {
		nodes("function:"+f.Name, f.Node)
	}
}

// fxWithoutStorage is a copy of the model with every tensor's data and
// location fields cleared, so that two saves of the same model compare
// equal wherever their tensors are stored.
func fxWithoutStorage(mp *onnxpb.ModelProto) *onnxpb.ModelProto {
	c := proto.Clone(mp).(*onnxpb.ModelProto)
	fxEachTensor(c, func(_ string, t *onnxpb.TensorProto) {
		t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data, t.StringData = nil, nil, nil, nil, nil, nil, nil
		t.ExternalData, t.DataLocation = nil, onnxpb.TensorProto_DEFAULT
	})
	return c
}

func TestFixtureRoundTrip(t *testing.T) {
	for _, f := range fixtures.All() {
		t.Run(f.Name, func(t *testing.T) {
			orig := testkit.Load(t, testkit.Write(t, f))
			saved := testkit.Load(t, rtkit.Save(t, orig, f.FileName()))
			a, b := fxTensors(t, orig), fxTensors(t, saved)
			if len(a) != len(b) {
				t.Fatalf("%d tensors before, %d after", len(a), len(b))
			}
			for i := range a {
				if a[i].where != b[i].where {
					t.Errorf("tensor %d is %s, was %s", i, b[i].where, a[i].where)
					continue
				}
				if !slices.Equal(a[i].bytes, b[i].bytes) {
					t.Errorf("%s: bytes differ after the round trip", a[i].where)
				}
				if a[i].external != b[i].external {
					t.Errorf("%s: external %v, was %v", a[i].where, b[i].external, a[i].external)
				}
			}
			if !proto.Equal(fxWithoutStorage(orig.Proto), fxWithoutStorage(saved.Proto)) {
				t.Errorf("the model (tensor storage aside) changed in the round trip")
			}
			if !proto.Equal(fxWithoutStorage(f.Model), fxWithoutStorage(saved.Proto)) {
				t.Errorf("the saved model (tensor storage aside) differs from the fixture")
			}
			if f.Name == "rich_round_trip" {
				if len(saved.Proto.ProtoReflect().GetUnknown()) == 0 || len(saved.Proto.Graph.ProtoReflect().GetUnknown()) == 0 {
					t.Errorf("unknown fields were dropped")
				}
			}
		})
	}
}

// fxSession opens a session and closes it with the test.
func fxSession(t *testing.T, rt *ort.Runtime, path string) *ort.Session {
	t.Helper()
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fxFloats(t *testing.T, h ort.HostTensor) []float64 {
	t.Helper()
	switch d := h.Data.(type) {
	case []float32:
		out := make([]float64, len(d))
		for i, v := range d {
			out[i] = float64(v)
		}
		return out
	case []float64:
		return d
	case []uint16:
		out := make([]float64, len(d))
		for i, v := range d {
			if h.Elem == onnxpb.TensorProto_BFLOAT16 {
				out[i] = float64(math.Float32frombits(uint32(v) << 16))
			} else {
				out[i] = float64(half.ToFloat32(v))
			}
		}
		return out
	}
	t.Fatalf("output of type %T", h.Data)
	return nil
}

// fxCompare runs both sessions on the same inputs and checks that every
// output agrees within tol relative L2 (with an absolute floor of 1e-9).
func fxCompare(t *testing.T, got, want *ort.Session, inputs map[string]ort.HostTensor, tol float64) {
	t.Helper()
	a, err := got.Run(inputs)
	if err != nil {
		t.Fatalf("rewritten model: %v", err)
	}
	b, err := want.Run(inputs)
	if err != nil {
		t.Fatalf("reference model: %v", err)
	}
	if len(a) != len(b) {
		t.Fatalf("%d outputs, the reference has %d", len(a), len(b))
	}
	for name, wb := range b {
		wa, ok := a[name]
		if !ok {
			t.Errorf("output %q is missing", name)
			continue
		}
		if !slices.Equal(wa.Shape, wb.Shape) {
			t.Errorf("output %q: shape %v, reference %v", name, wa.Shape, wb.Shape)
			continue
		}
		x, y := fxFloats(t, wa), fxFloats(t, wb)
		var d, n float64
		for i := range x {
			d += (x[i] - y[i]) * (x[i] - y[i])
			n += y[i] * y[i]
		}
		if d, n = math.Sqrt(d), math.Sqrt(n); d > tol*n+1e-9 {
			t.Errorf("output %q: ||rewritten - reference|| = %.3g, %.3g relative (tolerance %g)", name, d, d/n, tol)
		}
	}
}

// fxCheckWellFormed checks that every graph is topologically sorted (each
// node input is a graph input, initializer, outer-scope value or earlier
// output) and that no value name is defined twice anywhere in the model.
func fxCheckWellFormed(t *testing.T, mp *onnxpb.ModelProto) {
	t.Helper()
	defined := map[string]string{} // name -> where, over the whole model
	define := func(name, where string) {
		if name == "" {
			return
		}
		if prev, ok := defined[name]; ok {
			t.Errorf("name %q is defined twice: %s and %s", name, prev, where)
		}
		defined[name] = where
	}
	nodeNames := map[string]bool{}
	var visit func(path string, g *onnxpb.GraphProto, outer map[string]bool)
	visit = func(path string, g *onnxpb.GraphProto, outer map[string]bool) {
		scope := map[string]bool{"": true}
		for k := range outer {
			scope[k] = true
		}
		local := map[string]bool{}
		for _, in := range g.Input {
			local[in.Name] = true
		}
		for _, in := range g.Initializer {
			local[in.Name] = true
		}
		for _, name := range slices.Sorted(func(yield func(string) bool) {
			for k := range local {
				if !yield(k) {
					return
				}
			}
		}) {
			define(name, path+" input/initializer")
			scope[name] = true
		}
		for i, n := range g.Node {
			where := fmt.Sprintf("%s node %d %q (%s)", path, i, n.Name, n.OpType)
			if n.Name != "" {
				if nodeNames[n.Name] {
					t.Errorf("node name %q is used twice", n.Name)
				}
				nodeNames[n.Name] = true
			}
			for _, in := range n.Input {
				if !scope[in] {
					t.Errorf("%s reads %q before it is defined", where, in)
				}
			}
			for _, a := range n.Attribute {
				if a.G != nil {
					visit(path+"/"+n.Name+"."+a.Name, a.G, scope)
				}
				for j, sg := range a.Graphs {
					visit(fmt.Sprintf("%s/%s.%s[%d]", path, n.Name, a.Name, j), sg, scope)
				}
			}
			for _, o := range n.Output {
				define(o, where)
				scope[o] = true
			}
		}
		for _, o := range g.Output {
			if !scope[o.Name] {
				t.Errorf("%s: output %q is never defined", path, o.Name)
			}
		}
		for _, v := range g.ValueInfo {
			if !scope[v.Name] {
				t.Errorf("%s: value_info describes %q, which is never defined", path, v.Name)
			}
		}
	}
	visit("main", mp.Graph, nil)
}

// fxOnnxChecker runs the onnx package's checker (Debian's python3-onnx)
// on a model file when it is installed and knows the model's IR version
// and opset.
func fxOnnxChecker(t *testing.T, path string, ir, opset int64) {
	t.Helper()
	const maxIR, maxOpset = 8, 17 // python3-onnx 1.12
	if ir > maxIR || opset > maxOpset {
		t.Logf("onnx.checker skipped: IR version %d, opset %d is past what python3-onnx 1.12 checks (IR %d, opset %d)", ir, opset, maxIR, maxOpset)
		return
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import onnx").Run(); err != nil {
		t.Logf("onnx.checker skipped: /usr/bin/python3 cannot import onnx (%v)", err)
		return
	}
	out, err := exec.Command("/usr/bin/python3", "-c", "import onnx, sys; onnx.checker.check_model(sys.argv[1])", path).CombinedOutput()
	if err != nil {
		t.Errorf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

func TestFixtureRewriteORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	for fi, f := range append(fixtures.All(), fixtures.Folded()...) {
		t.Run(f.Name, func(t *testing.T) {
			t.Parallel() // a fixture's cases run one by one; fixtures side by side
			path := testkit.Write(t, f)
			if f.Table == "" {
				// Nothing to rewrite: the model runs, and Rewrite says so.
				s := fxSession(t, rt, path)
				if _, err := s.Run(rtkit.Inputs(f.Inputs, uint64(fi), 0)); err != nil {
					t.Fatal(err)
				}
				_, err := onnxrewrite.RewriteTable(testkit.Load(t, path), codes.Codes{}, codes.Codebook{}, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
				if !errors.Is(err, onnxrewrite.ErrNotFound) {
					t.Errorf("Rewrite of a model without tables: %v, want ErrNotFound", err)
				}
				return
			}
			variants := []struct {
				m, k int
				opts onnxrewrite.RewriteOptions
			}{
				{8, 16, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}},                // two codes a byte
				{7, 4, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}},                 // four a byte, one padding group
				{8, 16, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoPack: true}},  // one a byte
				{8, 16, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoBag: true}},   // pooled rows per token
				{8, 300, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}},               // uint16 codes
				{8, 16, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutDecode}},                // decoded at load
				{5, 256, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutDecode, NoPack: true}}, // uint8, decoded
			}
			for _, v := range variants {
				name := fmt.Sprintf("%s_M%d_K%d", v.opts.Layout, v.m, v.k)
				if v.opts.NoPack {
					name += "_nopack"
				}
				if v.opts.NoBag {
					name += "_nobag"
				}
				t.Run(name, func(t *testing.T) {
					fxRewriteCase(t, rt, f, path, v.m, v.k, uint64(fi), v.opts)
				})
			}
		})
	}
}

// fxRewriteCase rewrites every table of fixture f with random codes and
// checks the result in ONNX ort.Runtime against the dense reference.
func fxRewriteCase(t *testing.T, rt *ort.Runtime, f fixtures.Fixture, path string, mGroups, k int, seed uint64, opts onnxrewrite.RewriteOptions) {
	rw := testkit.Load(t, path)
	ref := testkit.Load(t, path)
	inv, err := onnxrewrite.FindTables(rw)
	if err != nil {
		t.Fatal(err)
	}
	type decodedTable struct {
		name string
		vals []float32
		dims []int64
	}
	var decoded []decodedTable
	for i, tb := range inv.Tables {
		grid := 0.0
		if tb.DType == "float16" {
			grid = 64
		} else if tb.DType == "bfloat16" {
			grid = 8
		}
		c, b := testkit.Codes(int(tb.Shape[0]), mGroups, k, int(tb.Shape[1]), seed*1000+uint64(i*10+k), grid)
		opts.Table = tb.Name
		if i == 0 {
			opts.Table = "" // the default must be the fixture's Table
		}
		rep, err := onnxrewrite.RewriteTable(rw, c, b, opts)
		if err != nil {
			t.Fatalf("rewriting %q: %v", tb.Name, err)
		}
		if rep.Table != tb.Name {
			t.Fatalf("rewrote %q, want %q", rep.Table, tb.Name)
		}
		if i == 0 && opts.Layout == onnxrewrite.LayoutLookup {
			want := f.Bags
			if opts.NoBag {
				want = 0
			}
			if rep.Bags != want {
				t.Errorf("%q: %d Gathers became bags, want %d (notes %q)", tb.Name, rep.Bags, want, rep.Notes)
			}
		}
		if rep.Gathers != len(tb.Gathers) {
			t.Errorf("%q: %d Gathers rewritten, FindTables saw %d", tb.Name, rep.Gathers, len(tb.Gathers))
		}
		kept := tb.Name == f.Table && f.Kept
		if kept != (len(rep.OtherUses) > 0) {
			t.Errorf("%q: other uses %+v, want some: %v", tb.Name, rep.OtherUses, kept)
		}
		if fxHasInitializer(rw.Proto.Graph, tb.Name) {
			t.Errorf("%q is still an initializer after the rewrite", tb.Name)
		}
		if want := onnxrewrite.CodesPerByte(k); !opts.NoPack && rep.CodesPerByte != want || opts.NoPack && rep.CodesPerByte != 1 {
			t.Errorf("%d codes per byte, want %d (NoPack %v)", rep.CodesPerByte, want, opts.NoPack)
		}
		decoded = append(decoded, decodedTable{tb.Name, codes.Decode(c, b), tb.Shape[:]})
	}
	// Every reader of a table, tied projections too, now reads what the
	// codes stand for: the reference replaces each table by its decoding.
	for _, d := range decoded {
		if err := onnxrewrite.SetTableValues(ref, d.name, d.vals); err != nil {
			t.Fatal(err)
		}
	}
	fxCheckWellFormed(t, rw.Proto)
	rwPath := rtkit.Save(t, rw, "rewritten.onnx")
	refPath := rtkit.Save(t, ref, "reference.onnx")
	if len(f.External) > 0 {
		if _, err := os.Stat(rwPath + ".data"); err != nil {
			t.Errorf("the rewritten model of an external-data model has no data file: %v", err)
		}
	}
	fxOnnxChecker(t, rwPath, rw.Proto.IrVersion, rw.Opset())
	got, want := fxSession(t, rt, rwPath), fxSession(t, rt, refPath)
	for trial := range trials {
		fxCompare(t, got, want, rtkit.Inputs(f.Inputs, seed, trial), 1e-6)
	}
}

const trials = 4

// fxFilesSize is the bytes of a model file and its external data files.
func fxFilesSize(tb testing.TB, path string) int64 {
	tb.Helper()
	n, err := model.FilesBytes(path)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

func TestFixtureSharedModels(t *testing.T) {
	cases := []struct {
		name, file, table string
		vocab             int64
		kept              bool
		minShrink         float64 // original files / rewritten files, 0: not checked
		tol               float64
	}{
		{"vibe_sentiment", "vibe-sentiment/sentiment_model.onnx", "embedding.weight", 15000, false, 10, 1e-5},
		{"stories260k_tied", "stories260k/stories260K_tied.onnx", "tok_embeddings.weight", 512, true, 0, 1e-5},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := testkit.SharedData(t, c.file)
			rt := rtkit.Runtime(t)
			rw, ref := testkit.Load(t, path), testkit.Load(t, path)
			inv, err := onnxrewrite.FindTables(rw)
			if err != nil {
				t.Fatal(err)
			}
			tb, err := inv.Table("")
			if err != nil {
				t.Fatal(err)
			}
			if tb.Name != c.table || tb.Shape[0] != c.vocab {
				t.Fatalf("default table %q %v, want %q with %d rows", tb.Name, tb.Shape, c.table, c.vocab)
			}
			cds, book := testkit.Codes(int(tb.Shape[0]), 8, 16, int(tb.Shape[1]), uint64(ci+1), 0)
			rep, err := onnxrewrite.RewriteTable(rw, cds, book, onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup})
			if err != nil {
				t.Fatal(err)
			}
			if fxHasInitializer(rw.Proto.Graph, tb.Name) {
				t.Errorf("%q is still an initializer after the rewrite", tb.Name)
			}
			if c.kept && !slices.ContainsFunc(rep.OtherUses, func(u onnxrewrite.Use) bool { return u.Kind == "tied_projection" }) {
				t.Errorf("other uses %+v: want a tied projection", rep.OtherUses)
			}
			for _, u := range rep.OtherUses {
				t.Logf("decoded for %s %s: %s", u.OpType, u.Node, u.Detail)
			}
			vals := codes.Decode(cds, book)
			if err := onnxrewrite.SetTableValues(ref, tb.Name, vals); err != nil {
				t.Fatal(err)
			}
			fxCheckWellFormed(t, rw.Proto)
			rwPath := rtkit.Save(t, rw, "rewritten.onnx")
			refPath := rtkit.Save(t, ref, "reference.onnx")
			if c.minShrink > 0 {
				before, after := fxFilesSize(t, path), fxFilesSize(t, rwPath)
				t.Logf("files: %d bytes before, %d after (%.1fx smaller)", before, after, float64(before)/float64(after))
				if float64(before) < c.minShrink*float64(after) {
					t.Errorf("files shrank from %d to %d bytes, less than %gx", before, after, c.minShrink)
				}
			}
			got, want := fxSession(t, rt, rwPath), fxSession(t, rt, refPath)
			var ins []fixtures.Input
			for _, in := range want.Inputs() {
				shape := slices.Clone(in.Shape)
				for j, d := range shape {
					if d < 0 {
						shape[j] = int64(2 + j*3) // batch 2, seq 5
					}
				}
				ins = append(ins, fixtures.Input{Name: in.Name, Elem: in.Elem, Shape: shape, Low: -c.vocab, High: c.vocab})
			}
			for trial := range trials {
				fxCompare(t, got, want, rtkit.Inputs(ins, uint64(ci), trial), c.tol)
			}
		})
	}
}

// fxHasInitializer says whether graph g, or any subgraph, has an initializer
// of that name.
func fxHasInitializer(g *onnxpb.GraphProto, name string) bool {
	for _, t := range g.Initializer {
		if t.Name == name {
			return true
		}
	}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			for _, sub := range append([]*onnxpb.GraphProto{a.G}, a.Graphs...) {
				if sub != nil && fxHasInitializer(sub, name) {
					return true
				}
			}
		}
	}
	return false
}
