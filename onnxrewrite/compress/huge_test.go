package compress_test

import (
	"context"
	"encoding/binary"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestCompressFloat64BeyondFloat32 compresses a float64 table of values
// about 1e300 (narrowed to float32 they would be infinities). It wants the
// codes of the same table brought into float32's range by 2^exp and a
// codebook exactly 2^exp times that table's, and in ONNX Runtime the
// outputs of the model at that scale, as close to the original's as the
// codes' error allows.
func TestCompressFloat64BeyondFloat32(t *testing.T) {
	rt := rtkit.Runtime(t)
	huge := fixtures.HugeFloat64Table(0)
	raw := huge.Model.Graph.Initializer[0].RawData
	var amax float64
	for i := 0; i < len(raw); i += 8 {
		amax = max(amax, math.Abs(math.Float64frombits(binary.LittleEndian.Uint64(raw[i:]))))
	}
	exp := codes.Float32Exp(amax)
	if amax <= math.MaxFloat32 || exp == 0 {
		t.Fatalf("the fixture's table reaches %g: not beyond float32's range", amax)
	}
	for _, layout := range []onnxrewrite.Layout{onnxrewrite.LayoutDecode, onnxrewrite.LayoutLookup} {
		t.Run(string(layout), func(t *testing.T) {
			opts := compress.Options{Tables: []string{"emb"}, M: 4, K: 16, Seed: 1, Threads: 1, Layout: layout}
			hm, hrep := compressFixture(t, huge, opts)
			tm, trep := compressFixture(t, fixtures.HugeFloat64Table(exp), opts)
			hc, hb := codesAndBook(t, hm)
			tc, tb := codesAndBook(t, tm)
			if string(hc) != string(tc) {
				t.Error("the codes differ from those of the table brought into float32's range")
			}
			for i := range hb {
				if hb[i] != math.Ldexp(tb[i], exp) {
					t.Fatalf("codebook value %d is %g, want %g x 2^%d", i, hb[i], tb[i], exp)
				}
			}
			h, w := hrep.Tables[0], trep.Tables[0]
			// The codes are learned in the readout metric (Mul by a
			// constant, Cast, MatMul): its error is the one they keep low.
			if h.MetricRelSqErr == nil || w.MetricRelSqErr == nil {
				t.Fatalf("metrics %q and %q, want the readout of both", h.Metric, w.Metric)
			}
			if h.RelSqErr != w.RelSqErr || h.MeanDist != math.Ldexp(w.MeanDist, exp) || *h.MetricRelSqErr != *w.MetricRelSqErr || !(*h.MetricRelSqErr < 0.5) {
				t.Errorf("error %g (readout %g), distance %g; want %g (readout %g, below 0.5) and %g x 2^%d", h.RelSqErr, *h.MetricRelSqErr, h.MeanDist,
					w.RelSqErr, *w.MetricRelSqErr, w.MeanDist, exp)
			}
			orig := rtkit.Save(t, loadFixture(t, huge), "orig.onnx")
			small := rtkit.Save(t, hm, "small.onnx")
			twin := rtkit.Save(t, tm, "twin.onnx")
			var diff, norm float64
			for trial := range 4 {
				in := rtkit.Inputs(huge.Inputs, 5, trial)
				a, b, c := outputOf(t, rt, orig, in, "out"), outputOf(t, rt, small, in, "out"), outputOf(t, rt, twin, in, "out")
				for i := range a {
					// Scaling by 2^exp is exact in float64: the same
					// codes give the same outputs at either scale.
					if b[i] != c[i] {
						t.Fatalf("output %d is %v, but %v for the table in float32's range", i, b[i], c[i])
					}
					if math.IsInf(float64(b[i]), 0) || math.IsNaN(float64(b[i])) {
						t.Fatalf("output %d of the compressed model is %v", i, b[i])
					}
					diff += (float64(a[i]) - float64(b[i])) * (float64(a[i]) - float64(b[i]))
					norm += float64(a[i]) * float64(a[i])
				}
			}
			rel := math.Sqrt(diff / norm)
			t.Logf("relative output error %.4f, table's %.4f", rel, math.Sqrt(h.RelSqErr))
			if !(rel < 2*math.Sqrt(h.RelSqErr)) {
				t.Errorf("relative output error %.4f, over twice the table's %.4f", rel, math.Sqrt(h.RelSqErr))
			}
		})
	}
}

func compressFixture(t *testing.T, f fixtures.Fixture, opts compress.Options) (*model.Model, *compress.Report) {
	t.Helper()
	m := loadFixture(t, f)
	rep, err := compress.Compress(context.Background(), m, opts)
	if err != nil {
		t.Fatal(err)
	}
	return m, rep
}

// codesAndBook returns the rewritten table's codes bytes and its float64
// codebook.
func codesAndBook(t *testing.T, m *model.Model) ([]byte, []float64) {
	t.Helper()
	var c []byte
	var b []float64
	for _, init := range m.Proto.Graph.Initializer {
		raw, err := m.TensorBytes(init)
		if err != nil {
			t.Fatal(err)
		}
		switch init.Name {
		case "emb.codes":
			c = raw
		case "emb.codebook":
			if init.DataType != int32(onnxpb.TensorProto_DOUBLE) {
				t.Fatalf("codebook stored as %d, want float64", init.DataType)
			}
			for i := 0; i < len(raw); i += 8 {
				b = append(b, math.Float64frombits(binary.LittleEndian.Uint64(raw[i:])))
			}
		}
	}
	if c == nil || b == nil {
		t.Fatal("no emb.codes or emb.codebook initializer in the rewritten model")
	}
	return c, b
}

// TestCompressFloat64BeyondFloat32Refused wants a 16-bit or float32
// codebook, which cannot hold values of 1e300, refused before learning
// with one line naming the file and the table.
func TestCompressFloat64BeyondFloat32Refused(t *testing.T) {
	m := loadFixture(t, fixtures.HugeFloat64Table(0))
	for _, dt := range []string{onnxrewrite.CodebookFloat16, onnxrewrite.CodebookFloat32} {
		opts := compress.Options{Tables: []string{"emb"}, M: 4, K: 16, Seed: 1, CodebookDType: dt,
			Progress: func(e compress.Event) {
				if e.Phase == "learn" {
					t.Errorf("%s: learning started", dt)
				}
			}}
		_, err := compress.Compress(context.Background(), m, opts)
		if err == nil || !strings.Contains(err.Error(), m.Path) || !strings.Contains(err.Error(), `table "emb"`) ||
			!strings.Contains(err.Error(), "float64") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s codebook: error %v, want one line naming %s, the table and float64", dt, err, m.Path)
		}
	}
}

// TestLearnFileFloat64BeyondFloat32 learns the table of values about 1e300
// from the model (learn --model): the codes are those of the table brought
// into float32's range by 2^exp, and the codebook, written as float64, is
// exactly 2^exp times its codebook; codes.Read gives it back as that
// codebook with Exp exp, which a rewrite stores as float64.
func TestLearnFileFloat64BeyondFloat32(t *testing.T) {
	dir := t.TempDir()
	cfg := learner.Config{M: 4, K: 16, Seed: 1, Threads: 1, Iterations: 4}
	learn := func(name string, exp int) (codes.Codes, codes.Codebook, *npy.Array) {
		path := filepath.Join(dir, name+".onnx")
		if err := fixtures.Write(dir, renamed(fixtures.HugeFloat64Table(exp), name)); err != nil {
			t.Fatal(err)
		}
		cp, bp := filepath.Join(dir, name+".codes.npy"), filepath.Join(dir, name+".book.npy")
		if _, err := compress.LearnFile(context.Background(), compress.Source{Model: path}, cfg, cp, bp); err != nil {
			t.Fatal(err)
		}
		c, b, err := codes.Read(cp, bp)
		if err != nil {
			t.Fatal(err)
		}
		a, err := npy.ReadFile(bp)
		if err != nil {
			t.Fatal(err)
		}
		return c, b, a
	}
	hc, hb, ha := learn("huge", 0)
	exp := hb.Exp
	tc, tb, ta := learn("twin", exp)
	if exp < 900 || ha.DType != "<f8" || ta.DType != "<f4" || tb.Exp != 0 {
		t.Fatalf("codebooks %s with Exp %d and %s with Exp %d; want float64 with Exp about 1000 and float32 with 0", ha.DType, exp, ta.DType, tb.Exp)
	}
	if !slices.Equal(hc.Data, tc.Data) || !slices.Equal(hb.Data, tb.Data) {
		t.Error("codes or codebook (divided by 2^Exp) differ from those of the table brought into float32's range")
	}
	hm := loadFixture(t, fixtures.HugeFloat64Table(0))
	if _, err := onnxrewrite.RewriteTable(hm, hc, hb, onnxrewrite.RewriteOptions{Table: "emb"}); err != nil {
		t.Fatal(err)
	}
	_, book := codesAndBook(t, hm)
	for i, v := range tb.Data {
		if book[i] != math.Ldexp(float64(v), exp) {
			t.Fatalf("rewritten codebook value %d is %g, want %g x 2^%d", i, book[i], v, exp)
		}
	}
}

// renamed is f written under another name.
func renamed(f fixtures.Fixture, name string) fixtures.Fixture {
	f.Name = name
	return f
}
