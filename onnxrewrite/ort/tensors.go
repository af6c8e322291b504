package ort

import (
	"encoding/binary"
	"fmt"

	onnxrt "github.com/yalue/onnxruntime_go"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// HostTensor is a plain tensor on the Go side (model.HostTensor, which
// pure-Go packages use without this one).
type HostTensor = model.HostTensor

func rtContainsValue(vs []onnxrt.Value, v onnxrt.Value) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// ElemCount is model.ElemCount.
func ElemCount(shape []int64) (int, error) { return model.ElemCount(shape) }

// newOrtTensor makes an onnxruntime_go tensor over data; an empty shape
// gives a scalar.
func newOrtTensor[T onnxrt.TensorData](shape onnxrt.Shape, data []T) (onnxrt.Value, error) {
	if len(shape) == 0 {
		return onnxrt.NewScalar(data[0])
	}
	return onnxrt.NewTensor(shape, data)
}

// toOrtValue converts t, checking that its element type, data type and
// shape agree.
func toOrtValue(t HostTensor) (onnxrt.Value, onnxpb.TensorProto_DataType, error) {
	n, err := ElemCount(t.Shape)
	if err != nil {
		return nil, 0, err
	}
	shape := onnxrt.Shape(append([]int64{}, t.Shape...))
	var (
		natural onnxpb.TensorProto_DataType
		length  int
	)
	switch d := t.Data.(type) {
	case []float32:
		natural, length = onnxpb.TensorProto_FLOAT, len(d)
	case []float64:
		natural, length = onnxpb.TensorProto_DOUBLE, len(d)
	case []int64:
		natural, length = onnxpb.TensorProto_INT64, len(d)
	case []int32:
		natural, length = onnxpb.TensorProto_INT32, len(d)
	case []uint8:
		natural, length = onnxpb.TensorProto_UINT8, len(d)
	case []uint16:
		natural, length = onnxpb.TensorProto_UINT16, len(d)
	case []bool:
		natural, length = onnxpb.TensorProto_BOOL, len(d)
	default:
		return nil, 0, fmt.Errorf("unsupported data type %T", t.Data)
	}
	elem := t.Elem
	if elem == onnxpb.TensorProto_UNDEFINED {
		elem = natural
	}
	half := natural == onnxpb.TensorProto_UINT16 &&
		(elem == onnxpb.TensorProto_FLOAT16 || elem == onnxpb.TensorProto_BFLOAT16)
	if elem != natural && !half {
		return nil, 0, fmt.Errorf("element type %s does not match data of type %T", elem, t.Data)
	}
	if length != n {
		return nil, 0, fmt.Errorf("shape %v needs %d elements, data has %d", t.Shape, n, length)
	}
	v, err := newOrtValue(shape, t.Data, elem, half)
	return v, elem, err
}

func newOrtValue(shape onnxrt.Shape, data any, elem onnxpb.TensorProto_DataType, half bool) (onnxrt.Value, error) {
	switch d := data.(type) {
	case []float32:
		return newOrtTensor(shape, d)
	case []float64:
		return newOrtTensor(shape, d)
	case []int64:
		return newOrtTensor(shape, d)
	case []int32:
		return newOrtTensor(shape, d)
	case []uint8:
		return newOrtTensor(shape, d)
	case []bool:
		return newOrtTensor(shape, d)
	case []uint16:
		if !half {
			return newOrtTensor(shape, d)
		}
		if len(shape) == 0 {
			return nil, fmt.Errorf("onnxruntime_go v1.27.0 cannot pass %s scalars; use shape [1]", elem)
		}
		// A custom-data tensor needs a byte even when the shape has no
		// elements (an empty past cache); ONNX Runtime reads none of it.
		raw := make([]byte, max(2*len(d), 2))
		for i, x := range d {
			binary.LittleEndian.PutUint16(raw[2*i:], x)
		}
		return onnxrt.NewCustomDataTensor(shape, raw, onnxrt.TensorElementDataType(elem))
	}
	panic("unreachable")
}

// fromOrtValue copies an output into a HostTensor.
func fromOrtValue(v onnxrt.Value) (HostTensor, error) {
	shape := []int64(v.GetShape())
	if shape == nil {
		shape = []int64{}
	} else {
		shape = append([]int64{}, shape...)
	}
	switch x := v.(type) {
	case *onnxrt.Tensor[float32]:
		return HostTensor{Shape: shape, Data: append([]float32{}, x.GetData()...), Elem: onnxpb.TensorProto_FLOAT}, nil
	case *onnxrt.Tensor[float64]:
		return HostTensor{Shape: shape, Data: append([]float64{}, x.GetData()...), Elem: onnxpb.TensorProto_DOUBLE}, nil
	case *onnxrt.Tensor[int64]:
		return HostTensor{Shape: shape, Data: append([]int64{}, x.GetData()...), Elem: onnxpb.TensorProto_INT64}, nil
	case *onnxrt.Tensor[int32]:
		return HostTensor{Shape: shape, Data: append([]int32{}, x.GetData()...), Elem: onnxpb.TensorProto_INT32}, nil
	case *onnxrt.Tensor[uint8]:
		return HostTensor{Shape: shape, Data: append([]uint8{}, x.GetData()...), Elem: onnxpb.TensorProto_UINT8}, nil
	case *onnxrt.Tensor[uint16]:
		return HostTensor{Shape: shape, Data: append([]uint16{}, x.GetData()...), Elem: onnxpb.TensorProto_UINT16}, nil
	case *onnxrt.Tensor[bool]:
		return HostTensor{Shape: shape, Data: append([]bool{}, x.GetData()...), Elem: onnxpb.TensorProto_BOOL}, nil
	case *onnxrt.Scalar[float32]:
		return HostTensor{Shape: shape, Data: []float32{x.GetData()}, Elem: onnxpb.TensorProto_FLOAT}, nil
	case *onnxrt.Scalar[float64]:
		return HostTensor{Shape: shape, Data: []float64{x.GetData()}, Elem: onnxpb.TensorProto_DOUBLE}, nil
	case *onnxrt.Scalar[int64]:
		return HostTensor{Shape: shape, Data: []int64{x.GetData()}, Elem: onnxpb.TensorProto_INT64}, nil
	case *onnxrt.Scalar[int32]:
		return HostTensor{Shape: shape, Data: []int32{x.GetData()}, Elem: onnxpb.TensorProto_INT32}, nil
	case *onnxrt.Scalar[uint8]:
		return HostTensor{Shape: shape, Data: []uint8{x.GetData()}, Elem: onnxpb.TensorProto_UINT8}, nil
	case *onnxrt.Scalar[uint16]:
		return HostTensor{Shape: shape, Data: []uint16{x.GetData()}, Elem: onnxpb.TensorProto_UINT16}, nil
	case *onnxrt.Scalar[bool]:
		return HostTensor{Shape: shape, Data: []bool{x.GetData()}, Elem: onnxpb.TensorProto_BOOL}, nil
	case *onnxrt.StringTensor:
		strs, err := x.GetContents()
		if err != nil {
			return HostTensor{}, err
		}
		return HostTensor{Shape: shape, Data: strs, Elem: onnxpb.TensorProto_STRING}, nil
	case *onnxrt.CustomDataTensor:
		elem := onnxpb.TensorProto_DataType(x.DataType())
		if elem != onnxpb.TensorProto_FLOAT16 && elem != onnxpb.TensorProto_BFLOAT16 {
			return HostTensor{}, fmt.Errorf("unsupported output element type %s", elem)
		}
		raw := x.GetData()
		bits := make([]uint16, len(raw)/2)
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		return HostTensor{Shape: shape, Data: bits, Elem: elem}, nil
	}
	return HostTensor{}, fmt.Errorf("unsupported output value %T (element type %s)", v, onnxpb.TensorProto_DataType(v.DataType()))
}
