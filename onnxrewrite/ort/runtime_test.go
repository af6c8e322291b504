package ort_test

import (
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// Helpers to build small models.

func rtTestModel(t *testing.T, g *onnxpb.GraphProto) string {
	t.Helper()
	m := &onnxpb.ModelProto{
		IrVersion:    8,
		ProducerName: "embshrink-test",
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Domain: "", Version: 17}},
		Graph:        g,
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// rtGatherModel looks rows of a 4x3 float table up by int64 ids of dynamic
// length "n", and adds a float "bias" of shape [3].
func rtGatherModel(t *testing.T) string {
	table := make([]byte, 0, 48)
	for i := range 12 {
		table = binary.LittleEndian.AppendUint32(table, math.Float32bits(float32(i)))
	}
	return rtTestModel(t, &onnxpb.GraphProto{
		Name: "gather",
		Initializer: []*onnxpb.TensorProto{{
			Name: "table", Dims: []int64{4, 3}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: table,
		}},
		Node: []*onnxpb.NodeProto{
			{OpType: "Gather", Input: []string{"table", "ids"}, Output: []string{"rows"}},
			{OpType: "Add", Input: []string{"rows", "bias"}, Output: []string{"out"}},
		},
		Input: []*onnxpb.ValueInfoProto{
			fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, "n"),
			fixtures.TensorInfo("bias", onnxpb.TensorProto_FLOAT, 3),
		},
		Output: []*onnxpb.ValueInfoProto{
			fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT, "n", 3),
			fixtures.TensorInfo("rows", onnxpb.TensorProto_FLOAT, "n", 3),
		},
	})
}

func TestRuntimeGather(t *testing.T) {
	rt := rtkit.Runtime(t)
	path := rtGatherModel(t)
	for _, opts := range []ort.SessionOptions{{}, {IntraOpThreads: 1, DisableOptimizations: true}} {
		s, err := rt.NewSession(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		wantIn := []ort.IOInfo{
			{Name: "ids", Elem: onnxpb.TensorProto_INT64, Shape: []int64{-1}, DimParams: []string{"n"}},
			{Name: "bias", Elem: onnxpb.TensorProto_FLOAT, Shape: []int64{3}, DimParams: []string{""}},
		}
		if got := s.Inputs(); !reflect.DeepEqual(got, wantIn) {
			t.Errorf("Inputs() = %+v, want %+v", got, wantIn)
		}
		wantOut := []ort.IOInfo{
			{Name: "out", Elem: onnxpb.TensorProto_FLOAT, Shape: []int64{-1, 3}, DimParams: []string{"n", ""}},
			{Name: "rows", Elem: onnxpb.TensorProto_FLOAT, Shape: []int64{-1, 3}, DimParams: []string{"n", ""}},
		}
		if got := s.Outputs(); !reflect.DeepEqual(got, wantOut) {
			t.Errorf("Outputs() = %+v, want %+v", got, wantOut)
		}
		out, err := s.Run(map[string]ort.HostTensor{
			"ids":  {Shape: []int64{3}, Data: []int64{2, 0, 3}},
			"bias": {Shape: []int64{3}, Data: []float32{0.5, 0, -1}, Elem: onnxpb.TensorProto_FLOAT},
		})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]ort.HostTensor{
			"out":  {Shape: []int64{3, 3}, Data: []float32{6.5, 7, 7, 0.5, 1, 1, 9.5, 10, 10}, Elem: onnxpb.TensorProto_FLOAT},
			"rows": {Shape: []int64{3, 3}, Data: []float32{6, 7, 8, 0, 1, 2, 9, 10, 11}, Elem: onnxpb.TensorProto_FLOAT},
		}
		if !reflect.DeepEqual(out, want) {
			t.Errorf("Run = %+v, want %+v", out, want)
		}
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestRuntimeRunErrors(t *testing.T) {
	rt := rtkit.Runtime(t)
	path := rtGatherModel(t)
	s, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	bias := ort.HostTensor{Shape: []int64{3}, Data: []float32{0, 0, 0}}
	tests := []struct {
		name   string
		inputs map[string]ort.HostTensor
		want   string
	}{
		{"missing input", map[string]ort.HostTensor{"bias": bias}, `missing input "ids"`},
		{"unknown input", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{1}, Data: []int64{0}}, "x": bias}, `no input "x"`},
		{"wrong length", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{2}, Data: []int64{0}}}, "needs 2 elements"},
		{"elem mismatch", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{1}, Data: []int64{0}, Elem: onnxpb.TensorProto_FLOAT}}, "does not match"},
		{"wrong type", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{1}, Data: []float32{0}}}, `input "ids": model wants INT64 elements, got FLOAT`},
		{"bad data type", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{1}, Data: []string{"a"}}}, "unsupported data type"},
		{"out of range id", map[string]ort.HostTensor{"bias": bias, "ids": {Shape: []int64{1}, Data: []int64{9}}}, "out of data bounds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.Run(tt.inputs)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("Run error = %v, want one naming %s and mentioning %q", err, path, tt.want)
			}
		})
	}
}

func TestRuntimeNewSessionErrors(t *testing.T) {
	rt := rtkit.Runtime(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{filepath.Join(dir, "missing.onnx"), garbage} {
		_, err := rt.NewSession(path, ort.SessionOptions{})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("NewSession(%s) error = %v, want one naming the file", path, err)
		}
	}
}

// TestRuntimeHalfFloats feeds float16 bits through Cast nodes and reads
// float32, float16 and bfloat16 outputs.
func TestRuntimeHalfFloats(t *testing.T) {
	rt := rtkit.Runtime(t)
	cast := func(in, out string, to onnxpb.TensorProto_DataType) *onnxpb.NodeProto {
		return &onnxpb.NodeProto{OpType: "Cast", Input: []string{in}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(to)}}}
	}
	path := rtTestModel(t, &onnxpb.GraphProto{
		Name: "half",
		Node: []*onnxpb.NodeProto{
			cast("x", "f32", onnxpb.TensorProto_FLOAT),
			cast("f32", "bf16", onnxpb.TensorProto_BFLOAT16),
			cast("f32", "f16", onnxpb.TensorProto_FLOAT16),
			cast("bfin", "bff32", onnxpb.TensorProto_FLOAT),
		},
		Input: []*onnxpb.ValueInfoProto{
			fixtures.TensorInfo("x", onnxpb.TensorProto_FLOAT16, "batch", 2),
			fixtures.TensorInfo("bfin", onnxpb.TensorProto_BFLOAT16, 2),
		},
		Output: []*onnxpb.ValueInfoProto{
			fixtures.TensorInfo("f32", onnxpb.TensorProto_FLOAT, "batch", 2),
			fixtures.TensorInfo("bf16", onnxpb.TensorProto_BFLOAT16, "batch", 2),
			fixtures.TensorInfo("f16", onnxpb.TensorProto_FLOAT16, "batch", 2),
			fixtures.TensorInfo("bff32", onnxpb.TensorProto_FLOAT, 2),
		},
	})
	s, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// float16: 1, -2, 0.5, 65504; bfloat16: 1.5, -3.
	x := []uint16{0x3c00, 0xc000, 0x3800, 0x7bff}
	out, err := s.Run(map[string]ort.HostTensor{
		"x":    {Shape: []int64{2, 2}, Data: x, Elem: onnxpb.TensorProto_FLOAT16},
		"bfin": {Shape: []int64{2}, Data: []uint16{0x3fc0, 0xc040}, Elem: onnxpb.TensorProto_BFLOAT16},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ort.HostTensor{
		"f32":   {Shape: []int64{2, 2}, Data: []float32{1, -2, 0.5, 65504}, Elem: onnxpb.TensorProto_FLOAT},
		"bf16":  {Shape: []int64{2, 2}, Data: []uint16{0x3f80, 0xc000, 0x3f00, 0x4780}, Elem: onnxpb.TensorProto_BFLOAT16},
		"f16":   {Shape: []int64{2, 2}, Data: x, Elem: onnxpb.TensorProto_FLOAT16},
		"bff32": {Shape: []int64{2}, Data: []float32{1.5, -3}, Elem: onnxpb.TensorProto_FLOAT},
	}
	if !reflect.DeepEqual(out, want) {
		t.Errorf("Run = %+v,\nwant %+v", out, want)
	}
	// A float16 input must say so: plain uint16 data is UINT16.
	_, err = s.Run(map[string]ort.HostTensor{
		"x":    {Shape: []int64{2, 2}, Data: x},
		"bfin": {Shape: []int64{2}, Data: []uint16{0, 0}, Elem: onnxpb.TensorProto_BFLOAT16},
	})
	if err == nil {
		t.Error("Run with uint16 data for a float16 input succeeded")
	}
}

func TestRuntimeRefCount(t *testing.T) {
	rtkit.Runtime(t) // fails or skips without the library
	path := rtGatherModel(t)
	for range 2 {
		a, err := ort.OpenRuntime()
		if err != nil {
			t.Fatal(err)
		}
		b, err := ort.OpenRuntime()
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		if err := a.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		if _, err := a.NewSession(path, ort.SessionOptions{}); err == nil {
			t.Error("NewSession on a closed Runtime succeeded")
		}
		s, err := b.NewSession(path, ort.SessionOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// Closing a Runtime closes its open sessions first: a session closed after
// its Runtime (as with defer rt.Close() and t.Cleanup(s.Close)) used to
// destroy itself in a destroyed environment and crash the process.
func TestRuntimeCloseClosesSessions(t *testing.T) {
	rtkit.Runtime(t)
	path := rtGatherModel(t)
	rt, err := ort.OpenRuntime()
	if err != nil {
		t.Fatal(err)
	}
	open, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	closed, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := closed.Close(); err != nil {
		t.Fatal(err)
	}
	if err := rt.Close(); err != nil {
		t.Fatal(err)
	}
	if err := open.Close(); err != nil {
		t.Errorf("Close after the Runtime's: %v", err)
	}
	in := map[string]ort.HostTensor{"ids": {Shape: []int64{1}, Data: []int64{0}}, "bias": {Shape: []int64{3}, Data: []float32{0, 0, 0}}}
	if _, err := open.Run(in); err == nil || !strings.Contains(err.Error(), "session is closed") {
		t.Errorf("Run after the Runtime's Close: %v, want session is closed", err)
	}
}

func TestRuntimeLibraryMissing(t *testing.T) {
	t.Setenv("ONNXRUNTIME_LIB", "")
	t.Setenv("EMBSHRINK_ORT_DIR", t.TempDir())
	_, err := ort.RuntimeLibrary()
	if err == nil || !strings.Contains(err.Error(), "embshrink runtime install") {
		t.Errorf("ort.RuntimeLibrary error = %v, want install instructions", err)
	}
	t.Setenv("ONNXRUNTIME_LIB", filepath.Join(t.TempDir(), "nope.so"))
	if _, err := ort.RuntimeLibrary(); err == nil || !strings.Contains(err.Error(), "ONNXRUNTIME_LIB") || !strings.Contains(err.Error(), "embshrink runtime install") {
		t.Errorf("ort.RuntimeLibrary error = %v, want one naming $ONNXRUNTIME_LIB", err)
	}
}

// TestRuntimeHalfOutputUnknownShape checks the error for a float16 output
// whose dynamic dimension no input names.
func TestRuntimeHalfOutputUnknownShape(t *testing.T) {
	rt := rtkit.Runtime(t)
	path := rtTestModel(t, &onnxpb.GraphProto{
		Name: "half",
		Node: []*onnxpb.NodeProto{{OpType: "Cast", Input: []string{"x"}, Output: []string{"y"},
			Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(onnxpb.TensorProto_FLOAT16)}}}},
		Input:  []*onnxpb.ValueInfoProto{fixtures.TensorInfo("x", onnxpb.TensorProto_FLOAT, "n")},
		Output: []*onnxpb.ValueInfoProto{fixtures.TensorInfo("y", onnxpb.TensorProto_FLOAT16, "m")},
	})
	s, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Run(map[string]ort.HostTensor{"x": {Shape: []int64{2}, Data: []float32{1, 2}}})
	if err == nil || !strings.Contains(err.Error(), `output "y" is FLOAT16 with dynamic dimension 0`) {
		t.Errorf("Run error = %v, want one about the dynamic float16 output", err)
	}
}
