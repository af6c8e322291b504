package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// valNeedRuntime skips a test when ONNX ort.Runtime is not installed, except
// in CI, where it must be.
func valNeedRuntime(t *testing.T) {
	t.Helper()
	if _, err := ort.RuntimeLibrary(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("ONNX ort.Runtime is required in CI: %v", err)
		}
		t.Skipf("skipping: %v", err)
	}
}

// valFixture writes the named fixture to a fresh folder.
func valFixture(t *testing.T, name string) string {
	t.Helper()
	for _, f := range fixtures.All() {
		if f.Name == name {
			dir := t.TempDir()
			if err := fixtures.Write(dir, f); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(dir, f.FileName())
		}
	}
	t.Fatalf("no fixture %q", name)
	return ""
}

// valCodes draws codes [rows, m] in [0, k) and a normal codebook.
func valCodes(rows, m, k, d int, seed uint64) (codes.Codes, codes.Codebook) {
	rng := rand.New(rand.NewPCG(seed, 7))
	c := codes.Codes{Rows: rows, M: m, K: k, Data: make([]uint16, rows*m)}
	for i := range c.Data {
		c.Data[i] = uint16(rng.IntN(k))
	}
	b := codes.Codebook{M: m, K: k, D: d, Data: make([]float32, m*k*d)}
	for i := range b.Data {
		b.Data[i] = float32(rng.NormFloat64() * 0.3)
	}
	return c, b
}

// valRewrites rewrites the default table of the model at path with random
// M x K codes, twice: faithfully (the original's table is set to what the
// codes decode to, then rewritten with them) and with random codes of the
// untouched model. It returns the faithful original, its rewrite and the
// random rewrite.
func valRewrites(t *testing.T, path string, m, k int) (orig, faithful, random string) {
	t.Helper()
	dir := t.TempDir()
	load := func(p string) *model.Model {
		mod, err := model.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		return mod
	}
	save := func(mod *model.Model, name string) string {
		p := filepath.Join(dir, name)
		if err := mod.Save(p, model.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		return p
	}
	mod := load(path)
	inv, err := onnxrewrite.FindTables(mod)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := inv.Table("")
	if err != nil {
		t.Fatal(err)
	}
	cs, book := valCodes(int(tb.Shape[0]), m, k, int(tb.Shape[1]), 1)
	if err := onnxrewrite.SetTableValues(mod, tb.Name, codes.Decode(cs, book)); err != nil {
		t.Fatal(err)
	}
	orig = save(mod, "original.onnx")
	mod = load(orig)
	if _, err := onnxrewrite.RewriteTable(mod, cs, book, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutLookup}); err != nil {
		t.Fatal(err)
	}
	faithful = save(mod, "faithful.onnx")
	mod = load(path)
	cs, book = valCodes(int(tb.Shape[0]), m, k, int(tb.Shape[1]), 2)
	if _, err := onnxrewrite.RewriteTable(mod, cs, book, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutLookup}); err != nil {
		t.Fatal(err)
	}
	random = save(mod, "random.onnx")
	return orig, faithful, random
}

// valReport is the part of validate's JSON the tests read.
type valReport struct {
	Pass   bool `json:"pass"`
	Inputs []struct {
		Name    string  `json:"name"`
		Shape   []int64 `json:"shape"`
		Source  string  `json:"source"`
		IDRange []int64 `json:"id_range"`
	} `json:"inputs"`
	Outputs []struct {
		Name         string   `json:"name"`
		MaxAbsDiff   float64  `json:"max_abs_diff"`
		Cosine       float64  `json:"cosine"`
		Agreement    *float64 `json:"agreement"`
		DecisionKind string   `json:"decision_kind"`
		Pass         bool     `json:"pass"`
	} `json:"outputs"`
}

func valDecode(t *testing.T, out string) valReport {
	t.Helper()
	var rep valReport
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Errorf("stdout holds more than one JSON document:\n%s", out)
	}
	return rep
}

func TestValidateCommand(t *testing.T) {
	valNeedRuntime(t)
	model := valFixture(t, "ids_int64")
	orig, faithful, random := valRewrites(t, model, 4, 16)
	ids := filepath.Join(t.TempDir(), "ids.npy")
	if err := npy.WriteFile(ids, npy.FromInt32([]int{3, 5}, []int32{0, 1, 2, 3, 4, 299, 298, 7, 7, 7, 100, 0, 0, 1, 2})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name     string
		args     []string
		code     int
		json     bool
		stdout   []string
		pass     bool
		inSource string
		inShape  []int64
	}{
		{"faithful", []string{orig, faithful}, exitOK, false, []string{"PASS: every output passes", "ids", "[64, 16]", "rows of table emb", "argmax"}, true, "", nil},
		{"faithful json, flags after", []string{orig, faithful, "--json", "--samples", "8", "--dim", "seq=3"}, exitOK, true, nil, true, "generated", []int64{8, 3}},
		{"random", []string{model, random}, exitOutside, false, []string{"FAIL", "outside tolerance"}, false, "", nil},
		{"random json", []string{model, random, "--json"}, exitOutside, true, nil, false, "generated", []int64{64, 16}},
		{"random, loose tolerance", []string{model, random, "--atol", "1000", "--json"}, exitOK, true, nil, true, "generated", []int64{64, 16}},
		{"given ids", []string{orig, faithful, "--inputs", "ids=" + ids, "--json"}, exitOK, true, nil, true, "given", []int64{3, 5}},
		{"given ids, bare file", []string{orig, faithful, "--inputs", ids, "--json"}, exitOK, true, nil, true, "given", []int64{3, 5}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"validate"}, c.args...)...)
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q\n%s", code, c.code, stderr, stdout)
			}
			if c.code == exitOutside && !strings.Contains(stderr, "validation failed: output(s) out outside tolerance") {
				t.Errorf("stderr %q", stderr)
			}
			if c.code == exitOK && stderr != "" {
				t.Errorf("stderr %q", stderr)
			}
			for _, want := range c.stdout {
				if !strings.Contains(stdout, want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout)
				}
			}
			if !c.json {
				return
			}
			rep := valDecode(t, stdout)
			if rep.Pass != c.pass || len(rep.Outputs) != 1 || rep.Outputs[0].Pass != c.pass {
				t.Errorf("report %+v, want pass %v", rep, c.pass)
			}
			if len(rep.Inputs) != 1 || rep.Inputs[0].Source != c.inSource || !slices.Equal(rep.Inputs[0].Shape, c.inShape) {
				t.Errorf("inputs %+v, want one %s of shape %v", rep.Inputs, c.inSource, c.inShape)
			}
		})
	}
}

func TestValidateInputErrors(t *testing.T) {
	valNeedRuntime(t)
	i64, i32 := valFixture(t, "ids_int64"), valFixture(t, "ids_int32")
	dir := t.TempDir()
	floats := filepath.Join(dir, "floats.npy")
	if err := npy.WriteFile(floats, npy.FromFloat32([]int{2, 2}, []float32{1, 2, 3, 4})); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"one argument", []string{i64}, "expected two arguments"},
		{"missing original", []string{filepath.Join(dir, "none.onnx"), i64}, "none.onnx"},
		{"missing rewrite", []string{i64, filepath.Join(dir, "gone.onnx")}, "gone.onnx"},
		{"different inputs", []string{i64, i32}, "different inputs"},
		{"unknown dim", []string{i64, i64, "--dim", "len=3"}, `dimension named "len"`},
		{"bad dim", []string{i64, i64, "--dim", "seq"}, "NAME=VALUE"},
		{"bad dim value", []string{i64, i64, "--dim", "seq=x"}, "invalid syntax"},
		{"zero samples", []string{i64, i64, "--samples", "0"}, "--samples"},
		{"agreement above 1", []string{i64, i64, "--min-agreement", "2"}, "--min-agreement"},
		{"cosine above 1", []string{i64, i64, "--min-cosine", "1.5"}, "--min-cosine"},
		{"cosine 0", []string{i64, i64, "--min-cosine", "0"}, "--min-cosine"},
		{"negative rtol", []string{i64, i64, "--rtol", "-1"}, "--rtol"},
		{"float inputs file", []string{i64, i64, "--inputs", "ids=" + floats}, "must be integers"},
		{"missing inputs file", []string{i64, i64, "--inputs", "ids=" + filepath.Join(dir, "no.npy")}, "no.npy"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(append([]string{"validate"}, c.args...)...)
			if code != exitInput {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitInput, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout not empty on error: %q", stdout)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr %q, want it to mention %q", stderr, c.want)
			}
		})
	}
}

// TestValidateNoRuntime points $ONNXRUNTIME_LIB at nothing: validate exits
// 2 and says how to install ONNX ort.Runtime.
func TestValidateNoRuntime(t *testing.T) {
	model := valFixture(t, "ids_int64")
	t.Setenv("ONNXRUNTIME_LIB", filepath.Join(t.TempDir(), "libonnxruntime.so.1"))
	code, stdout, stderr := runCLI("validate", model, model)
	if code != exitInput || stdout != "" {
		t.Fatalf("exit %d, stdout %q; want %d and nothing", code, stdout, exitInput)
	}
	if !strings.Contains(stderr, "embshrink runtime install") {
		t.Errorf("stderr %q lacks the install hint", stderr)
	}
}

// TestValidateVibe validates rewrites of the real sentiment model with
// random 8x16 codes: a faithful one passes, a random one fails.
func TestValidateVibe(t *testing.T) {
	path := filepath.Join("..", "..", "..", "shared", "data", "vibe-sentiment", "sentiment_model.onnx")
	if _, err := os.Stat(path); err != nil {
		t.Skipf("skipping: the shared vibe-sentiment model is not here (%v)", err)
	}
	valNeedRuntime(t)
	orig, faithful, random := valRewrites(t, path, 8, 16)
	for _, c := range []struct {
		name, a, b string
		code       int
	}{
		{"faithful", orig, faithful, exitOK},
		{"random", path, random, exitOutside},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, stderr := runCLI("validate", c.a, c.b, "--samples", "256", "--json")
			if code != c.code {
				t.Fatalf("exit %d, want %d; stderr %q", code, c.code, stderr)
			}
			rep := valDecode(t, stdout)
			o := rep.Outputs[0]
			if o.Agreement == nil || o.DecisionKind != "threshold_0.5" || !slices.Equal(rep.Inputs[0].IDRange, []int64{0, 15000}) {
				t.Fatalf("report %+v", rep)
			}
			t.Logf("%s: exit %d, max abs diff %.3g, agreement %.4f, cosine %.6f", c.name, code, o.MaxAbsDiff, *o.Agreement, o.Cosine)
		})
	}
}
