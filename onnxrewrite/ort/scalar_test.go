package ort_test

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// TestRuntimeScalarOutputs runs y = x[1], a rank-0 output, for each element
// type, with x a graph input and with x an initializer (a model with no
// graph inputs runs through an IoBinding): onnxruntime_go cannot wrap a
// rank-0 output it allocates itself, so Run binds one.
func TestRuntimeScalarOutputs(t *testing.T) {
	rt := rtkit.Runtime(t)
	tests := []struct {
		elem onnxpb.TensorProto_DataType
		x    any
		raw  []byte // x's bytes, little-endian
		want any    // y's data, or nil when the type cannot be returned
	}{
		{onnxpb.TensorProto_FLOAT, []float32{1.5, -2.5, 3}, le32(0x3fc00000, 0xc0200000, 0x40400000), []float32{-2.5}},
		{onnxpb.TensorProto_DOUBLE, []float64{1, 7.25, 0}, le64(0x3ff0000000000000, 0x401d000000000000, 0), []float64{7.25}},
		{onnxpb.TensorProto_INT64, []int64{4, -9, 2}, le64(4, 0xfffffffffffffff7, 2), []int64{-9}},
		{onnxpb.TensorProto_INT32, []int32{4, 11, 2}, le32(4, 11, 2), []int32{11}},
		{onnxpb.TensorProto_UINT8, []uint8{4, 200, 2}, []byte{4, 200, 2}, []uint8{200}},
		{onnxpb.TensorProto_BOOL, []bool{false, true, false}, []byte{0, 1, 0}, []bool{true}},
		{onnxpb.TensorProto_FLOAT16, []uint16{0, 0x3c00, 0}, []byte{0, 0, 0, 0x3c, 0, 0}, nil},
	}
	for _, tt := range tests {
		for _, asInput := range []bool{true, false} {
			name := tt.elem.String()
			if !asInput {
				name += "/no inputs"
			}
			t.Run(name, func(t *testing.T) {
				path := scalarModel(t, tt.elem, tt.raw, asInput)
				s, err := rt.NewSession(path, ort.SessionOptions{})
				if err != nil {
					t.Fatal(err)
				}
				defer s.Close()
				in := map[string]ort.HostTensor{}
				if asInput {
					in["x"] = ort.HostTensor{Shape: []int64{3}, Data: tt.x, Elem: tt.elem}
				}
				out, err := s.Run(in)
				if tt.want == nil {
					if err == nil || !strings.Contains(err.Error(), `output "y"`) || !strings.Contains(err.Error(), "scalar") {
						t.Errorf("Run error %v, want one naming output y and saying a scalar of its type cannot be returned", err)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				y := out["y"]
				if len(y.Shape) != 0 || y.Elem != tt.elem || !reflect.DeepEqual(y.Data, tt.want) {
					t.Errorf("y = %v %s %v, want [] %s %v", y.Shape, y.Elem, y.Data, tt.elem, tt.want)
				}
			})
		}
	}
}

// scalarModel is y = Gather(x [3], 1): a rank-0 y of x's type; x is a
// graph input, or an initializer holding raw.
func scalarModel(t *testing.T, elem onnxpb.TensorProto_DataType, raw []byte, asInput bool) string {
	g := &onnxpb.GraphProto{
		Name:        "scalar",
		Initializer: []*onnxpb.TensorProto{{Name: "one", DataType: int32(onnxpb.TensorProto_INT64), RawData: le64(1)}},
		Node:        []*onnxpb.NodeProto{{OpType: "Gather", Input: []string{"x", "one"}, Output: []string{"y"}}},
		Output:      []*onnxpb.ValueInfoProto{fixtures.TensorInfo("y", elem)},
	}
	if asInput {
		g.Input = []*onnxpb.ValueInfoProto{fixtures.TensorInfo("x", elem, 3)}
	} else {
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: "x", Dims: []int64{3}, DataType: int32(elem), RawData: raw})
	}
	return rtTestModel(t, g)
}

func le32(v ...uint32) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, x)
	}
	return b
}

func le64(v ...uint64) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint64(b, x)
	}
	return b
}
