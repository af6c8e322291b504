package ort

import (
	"fmt"

	onnxrt "github.com/yalue/onnxruntime_go"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// runNoInputs runs a model that has no graph inputs (its values all come
// from initializers and Constants). onnxruntime_go's Run indexes its first
// input, so this goes through an IoBinding, with every output allocated
// here from its declared shape, which must then be static.
func (s *Session) runNoInputs() (map[string]HostTensor, error) {
	b, err := s.sess.CreateIoBinding()
	if err != nil {
		return nil, err
	}
	defer b.Destroy()
	var values []onnxrt.Value
	defer func() {
		for _, v := range values {
			v.Destroy()
		}
	}()
	for _, info := range s.outputs {
		es := model.ElemBits(info.Elem) / 8
		if info.Unranked || es == 0 {
			return nil, fmt.Errorf("output %q (%s, shape %s): a model with no graph inputs is run with outputs allocated from their declared shapes, which this one lacks", info.Name, model.DTypeName(info.Elem), model.DimsString(info.Shape, info.DimParams))
		}
		for _, d := range info.Shape {
			if d < 0 {
				return nil, fmt.Errorf("output %q has dynamic shape %s: a model with no graph inputs is run with outputs allocated from their declared shapes, which must be static", info.Name, model.DimsString(info.Shape, info.DimParams))
			}
		}
		n, err := ElemCount(info.Shape)
		if err != nil || int64(n)*es > 1<<30 {
			return nil, fmt.Errorf("output %q: shape %v is too large to allocate", info.Name, info.Shape)
		}
		v, err := emptyOutput(info.Elem, onnxrt.Shape(info.Shape), int64(n)*es)
		if err != nil {
			return nil, fmt.Errorf("output %q: allocating %v: %w", info.Name, info.Shape, err)
		}
		values = append(values, v)
		if err := b.BindOutput(info.Name, v); err != nil {
			return nil, fmt.Errorf("output %q: %w", info.Name, err)
		}
	}
	if err := s.sess.RunWithBinding(b); err != nil {
		return nil, err
	}
	result := make(map[string]HostTensor, len(values))
	for i, v := range values {
		t, err := fromOrtValue(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", s.outputs[i].Name, err)
		}
		result[s.outputs[i].Name] = t
	}
	return result, nil
}

// emptyOutput allocates an output tensor of elem that fromOrtValue reads.
func emptyOutput(elem onnxpb.TensorProto_DataType, shape onnxrt.Shape, bytes int64) (onnxrt.Value, error) {
	if len(shape) == 0 {
		return emptyScalar(elem)
	}
	switch elem {
	case onnxpb.TensorProto_FLOAT:
		return onnxrt.NewEmptyTensor[float32](shape)
	case onnxpb.TensorProto_DOUBLE:
		return onnxrt.NewEmptyTensor[float64](shape)
	case onnxpb.TensorProto_INT64:
		return onnxrt.NewEmptyTensor[int64](shape)
	case onnxpb.TensorProto_INT32:
		return onnxrt.NewEmptyTensor[int32](shape)
	case onnxpb.TensorProto_UINT8:
		return onnxrt.NewEmptyTensor[uint8](shape)
	case onnxpb.TensorProto_UINT16:
		return onnxrt.NewEmptyTensor[uint16](shape)
	case onnxpb.TensorProto_BOOL:
		return onnxrt.NewEmptyTensor[bool](shape)
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return onnxrt.NewCustomDataTensor(shape, make([]byte, max(bytes, 2)), onnxrt.TensorElementDataType(elem))
	}
	return nil, fmt.Errorf("element type %s cannot be returned", elem)
}

// emptyScalar allocates a rank-0 output of elem that fromOrtValue reads.
func emptyScalar(elem onnxpb.TensorProto_DataType) (onnxrt.Value, error) {
	switch elem {
	case onnxpb.TensorProto_FLOAT:
		return onnxrt.NewEmptyScalar[float32]()
	case onnxpb.TensorProto_DOUBLE:
		return onnxrt.NewEmptyScalar[float64]()
	case onnxpb.TensorProto_INT64:
		return onnxrt.NewEmptyScalar[int64]()
	case onnxpb.TensorProto_INT32:
		return onnxrt.NewEmptyScalar[int32]()
	case onnxpb.TensorProto_UINT8:
		return onnxrt.NewEmptyScalar[uint8]()
	case onnxpb.TensorProto_UINT16:
		return onnxrt.NewEmptyScalar[uint16]()
	case onnxpb.TensorProto_BOOL:
		return onnxrt.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("a %s scalar cannot be returned by onnxruntime_go v1.27.0", model.DTypeName(elem))
}
