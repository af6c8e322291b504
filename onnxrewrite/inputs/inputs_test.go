package inputs_test

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// maskedBag loads fixtures.MaskedBag with its mask declared as elem
// ([batch, 16]).
func maskedBag(t *testing.T, elem onnxpb.TensorProto_DataType) *model.Model {
	t.Helper()
	f := fixtures.MaskedBag()
	f.Model.Graph.Input[1] = fixtures.TensorInfo("mask", elem, "batch", 16)
	return testkit.Load(t, testkit.Write(t, f))
}

// Masks of one row of 16 values, in several dtypes.
var (
	mask01 = row(1, 1, 0, 1)
	shape1 = []int{1, 16}
)

func row(v ...float64) []float64 { return append(v, make([]float64, 16-len(v))...) }

func f32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func i64(v []float64) []int64 {
	out := make([]int64, len(v))
	for i, x := range v {
		out[i] = int64(x)
	}
	return out
}

func halves(v []float64) []uint16 {
	out := make([]uint16, len(v))
	for i, x := range v {
		out[i] = half.FromFloat32(float32(x))
	}
	return out
}

// convertFiles writes the test's .npy files to dir, by key.
func convertFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	write := func(name string, a *npy.Array) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteFile(p, a); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return map[string]string{
		"f32":     write("f32.npy", npy.FromFloat32(shape1, f32(mask01))),
		"f64":     write("f64.npy", npy.FromFloat64(shape1, mask01)),
		"f64 0.1": write("f64_tenth.npy", npy.FromFloat64(shape1, row(1, 0.1))),
		"f32 0.5": write("f32_half.npy", npy.FromFloat32(shape1, f32(row(1, 0.5)))),
		"i64":     write("i64.npy", npy.FromInt64(shape1, i64(mask01))),
		"i64 2":   write("i64_two.npy", npy.FromInt64(shape1, i64(row(1, 1, 2)))),
		"bool":    write("bool.npy", &npy.Array{DType: "|b1", Shape: shape1, Data: []byte{1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}}),
		"f16":     write("f16.npy", &npy.Array{DType: "<f2", Shape: shape1, Data: halfBytes(halves(row(1, 0.333)))}),
		"f32 1/3": write("f32_third.npy", npy.FromFloat32(shape1, f32(row(1, 1.0/3)))),
		"ids f32": write("ids_f32.npy", npy.FromFloat32(shape1, f32(row(5, 6)))),
		"short":   write("short.npy", npy.FromFloat32([]int{1, 8}, make([]float32, 8))),
	}
}

// Every input in the dtype the model declares, converted where exact.
func TestLoadConverts(t *testing.T) {
	files := convertFiles(t, t.TempDir())
	bools := make([]bool, 16)
	bools[0], bools[1], bools[3] = true, true, true
	cases := []struct {
		name string
		elem onnxpb.TensorProto_DataType
		spec string
		want any
		err  string
	}{
		{"float32 for float32, as it is", model.Float32, "mask=" + files["f32"], f32(mask01), ""},
		{"float64 0/1 for float32", model.Float32, "mask=" + files["f64"], f32(mask01), ""},
		{"float64 0.1 for float32 is not exact", model.Float32, "mask=" + files["f64 0.1"], nil, `f64_tenth.npy: element [0, 1] is 0.1, which input "mask"'s type float32 does not hold exactly`},
		{"int64 for float32", model.Float32, "mask=" + files["i64"], f32(mask01), ""},
		{"bool for float32", model.Float32, "mask=" + files["bool"], f32(mask01), ""},
		{"float32 0/1 for bool", onnxpb.TensorProto_BOOL, "mask=" + files["f32"], bools, ""},
		{"float32 0.5 for bool", onnxpb.TensorProto_BOOL, "mask=" + files["f32 0.5"], nil, `f32_half.npy: element [0, 1] is 0.5, which input "mask"'s type bool does not hold exactly`},
		{"int64 2 for bool", onnxpb.TensorProto_BOOL, "mask=" + files["i64 2"], nil, `i64_two.npy: element [0, 2] is 2, outside input "mask"'s type bool`},
		{"float32 0/1 for int64", model.Int64, "mask=" + files["f32"], i64(mask01), ""},
		{"float32 0.5 for int64", model.Int64, "mask=" + files["f32 0.5"], nil, `element [0, 1] is 0.5, which input "mask"'s type int64 does not hold exactly`},
		{"float64 0/1 for int32", model.Int32, "mask=" + files["f64"], []int32{1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, ""},
		{"float16 for float16, as it is", model.Float16, "mask=" + files["f16"], halves(row(1, 0.333)), ""},
		{"float32 for float16, rounded", model.Float16, "mask=" + files["f32 1/3"], halves(row(1, 1.0/3)), ""},
		{"float64 for float16", model.Float16, "mask=" + files["f64"], nil, "takes float32 files"},
		{"int64 for float16", model.Float16, "mask=" + files["i64"], halves(mask01), ""},
		{"float ids", model.Float32, "ids=" + files["ids f32"], nil, `calibration ids for input "ids" must be integers`},
		{"bare file: the one ids input", model.Float32, files["i64"], nil, ""},
		{"static size differs", model.Float32, "mask=" + files["short"], nil, "dimension 1 is 8, want 16"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := inputs.Load(maskedBag(t, c.elem), []string{c.spec})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one mentioning %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.want == nil {
				if _, ok := got["ids"]; !ok || len(got) != 1 {
					t.Fatalf("got %+v, want the ids alone", got)
				}
				return
			}
			m := got["mask"]
			if !reflect.DeepEqual(m.Data, c.want) || m.Elem != c.elem || !reflect.DeepEqual(m.Shape, []int64{1, 16}) {
				t.Errorf("mask %+v, want %v of %s [1, 16]", m, c.want, model.DTypeName(c.elem))
			}
		})
	}
}

func halfBytes(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		b[2*i], b[2*i+1] = byte(x), byte(x>>8)
	}
	return b
}

// An .npz archive gives every input it names, stored or deflated; a
// member that is no input, an input given twice, or NAME=FILE.npz are
// errors naming the file.
func TestLoadNPZ(t *testing.T) {
	dir := t.TempDir()
	m := maskedBag(t, model.Float32)
	ids := npy.FromInt64([]int{2, 16}, make([]int64, 32))
	mask := npy.FromFloat32([]int{2, 16}, make([]float32, 32))
	write := func(name string, compress bool, ms ...npy.Member) string {
		p := filepath.Join(dir, name)
		if err := npy.WriteNPZ(p, ms, compress); err != nil {
			t.Fatal(err)
		}
		return p
	}
	stored := write("stored.npz", false, npy.Member{Name: "ids", Array: ids}, npy.Member{Name: "mask", Array: mask})
	deflated := write("deflated.npz", true, npy.Member{Name: "mask", Array: mask}, npy.Member{Name: "ids", Array: ids})
	extra := write("extra.npz", false, npy.Member{Name: "ids", Array: ids}, npy.Member{Name: "labels", Array: ids})
	idsFile := filepath.Join(dir, "ids.npy")
	if err := npy.WriteFile(idsFile, ids); err != nil {
		t.Fatal(err)
	}
	want := map[string]model.HostTensor{
		"ids":  {Shape: []int64{2, 16}, Data: make([]int64, 32), Elem: model.Int64},
		"mask": {Shape: []int64{2, 16}, Data: make([]float32, 32), Elem: model.Float32},
	}
	for _, p := range []string{stored, deflated} {
		got, err := inputs.Load(m, []string{p})
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %+v (%v), want %+v", filepath.Base(p), got, err, want)
		}
	}
	for _, c := range []struct {
		specs []string
		want  string
	}{
		{[]string{extra}, `extra.npz member labels.npy: "labels" is no input`},
		{[]string{stored, "ids=" + idsFile}, `"ids" is given twice`},
		{[]string{"ids=" + stored}, "an .npz archive, which names its inputs itself"},
	} {
		_, err := inputs.Load(m, c.specs)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one mentioning %q", c.specs, err, c.want)
		}
	}
}
