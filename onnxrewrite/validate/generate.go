package validate

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// hostElem is the element type a ort.HostTensor holds.
func hostElem(t ort.HostTensor) model.DataType {
	if t.Elem != onnxpb.TensorProto_UNDEFINED {
		return t.Elem
	}
	switch t.Data.(type) {
	case []float32:
		return model.Float32
	case []float64:
		return model.Float64
	case []int64:
		return model.Int64
	case []int32:
		return model.Int32
	case []uint8:
		return model.Uint8
	case []uint16:
		return model.Uint16
	case []bool:
		return onnxpb.TensorProto_BOOL
	}
	return onnxpb.TensorProto_UNDEFINED
}

// givenReport describes a given input: the range of an integer input's
// values ("ids in [lo, hi]" for ids).
func givenReport(in ort.IOInfo, role roles.Input, t ort.HostTensor) InputReport {
	r := InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: slices.Clone(t.Shape), Source: "given", Role: role.Kind.String(), Values: "given"}
	var lo, hi int64
	seen := false
	note := func(v int64) {
		if !seen || v < lo {
			lo = v
		}
		if !seen || v > hi {
			hi = v
		}
		seen = true
	}
	switch d := t.Data.(type) {
	case []int64:
		for _, v := range d {
			note(v)
		}
	case []int32:
		for _, v := range d {
			note(int64(v))
		}
	case []uint8:
		for _, v := range d {
			note(int64(v))
		}
	case []uint16:
		if model.IsInteger(in.Elem) {
			for _, v := range d {
				note(int64(v))
			}
		}
	}
	if seen {
		r.IDRange = []int64{lo, hi + 1}
		r.Values = fmt.Sprintf("ids in [%d, %d]", lo, hi)
		if role.Kind != roles.IDs && role.Kind != roles.Other {
			r.Values = fmt.Sprintf("values in [%d, %d]", lo, hi)
		}
		return r
	}
	if v, _ := hostFloats(t); len(v) > 0 {
		r.Values = fmt.Sprintf("values in [%.4g, %.4g]", slices.Min(v), slices.Max(v))
	}
	return r
}
