package inputs

import (
	"fmt"
	"math"
	"strings"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// source is one file's array for one input, for converting and for
// naming an element in messages.
type source struct {
	file string
	a    *npy.Array
	in   roles.Input
	// anyRows: the first axis takes any number of samples, though the
	// model fixes it at 1 (roles.AnyRows).
	anyRows bool
}

// convert makes a tensor of in's element type and declared shape from a;
// the first axis may hold any number of samples where r.AnyRows says so.
func convert(file string, a *npy.Array, r *roles.Roles, in roles.Input) (model.HostTensor, error) {
	s := source{file, a, in, r.AnyRows(in, 0)}
	kind := byte(0)
	if len(a.DType) == 3 {
		kind = a.DType[1]
	}
	if in.Kind.Index() && kind != 'i' && kind != 'u' {
		return model.HostTensor{}, fmt.Errorf("%s: dtype %q: calibration ids for input %q must be integers", file, a.DType, in.Name)
	}
	if in.Kind.Index() && a.Len() == 0 {
		return model.HostTensor{}, fmt.Errorf("%s: shape %v holds no ids", file, a.Shape)
	}
	shape, err := s.shape()
	if err != nil {
		return model.HostTensor{}, err
	}
	var data any
	switch {
	case model.IsInteger(in.Elem) || in.Elem == onnxpb.TensorProto_BOOL:
		data, err = s.integers(kind)
	case in.Elem == model.Float32 || in.Elem == model.Float64:
		data, err = s.floats(kind)
	case in.Elem == model.Float16 || in.Elem == model.BFloat16:
		data, err = s.halves(kind)
	default:
		err = fmt.Errorf("%s: input %q is %s, which embshrink cannot feed", file, in.Name, model.DTypeName(in.Elem))
	}
	if err != nil {
		return model.HostTensor{}, err
	}
	return model.HostTensor{Shape: shape, Data: data, Elem: in.Elem}, nil
}

// shape is the file's shape for the input: as it is, flattened for a
// rank-1 input, or an error when the ranks or a static size differ.
func (s source) shape() ([]int64, error) {
	shape := make([]int64, len(s.a.Shape))
	for i, d := range s.a.Shape {
		shape[i] = int64(d)
	}
	in := s.in
	switch {
	case in.Shape == nil:
		// Rank unknown: take the file as it is.
	case len(in.Shape) == 1:
		shape = []int64{int64(s.a.Len())}
	case len(in.Shape) != len(shape):
		return nil, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: the ranks differ", s.file, s.a.Shape, in.Name, model.DimsString(in.Shape, in.DimParams))
	default:
		for i, d := range in.Shape {
			if d >= 0 && d != shape[i] && !(i == 0 && s.anyRows) {
				return nil, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: dimension %d is %d, want %d", s.file, s.a.Shape, in.Name, model.DimsString(in.Shape, in.DimParams), i, shape[i], d)
			}
		}
	}
	return shape, nil
}

// at names element i of the file: its index, [row, col] for a matrix.
func (s source) at(i int) string {
	if len(s.a.Shape) <= 1 {
		return fmt.Sprint(i)
	}
	idx := make([]string, len(s.a.Shape))
	for j := len(s.a.Shape) - 1; j >= 0; j-- {
		d := max(s.a.Shape[j], 1)
		idx[j] = fmt.Sprint(i % d)
		i /= d
	}
	return "[" + strings.Join(idx, ", ") + "]"
}

// outside says element i (v) does not fit the input's type.
func (s source) outside(i int, v any) error {
	return fmt.Errorf("%s: element %s is %v, outside input %q's type %s", s.file, s.at(i), v, s.in.Name, model.DTypeName(s.in.Elem))
}

// inexact says element i (v) would change in the input's type.
func (s source) inexact(i int, v any) error {
	return fmt.Errorf("%s: element %s is %v, which input %q's type %s does not hold exactly", s.file, s.at(i), v, s.in.Name, model.DTypeName(s.in.Elem))
}

// integers converts to an integer or bool input: integer and bool files
// within the type's range, float files whose values are whole numbers in
// it (0 and 1 for bool).
func (s source) integers(kind byte) (any, error) {
	lo, hi := intRange(s.in.Elem)
	var vals []int64
	if kind == 'f' {
		fs, err := s.a.Float64s()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		vals = make([]int64, len(fs))
		for i, f := range fs {
			if f != math.Trunc(f) || !(f >= float64(lo) && f < float64(hi)+1) {
				return nil, s.inexact(i, f)
			}
			vals[i] = int64(f)
		}
	} else {
		var err error
		if vals, err = s.a.Int64s(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.file, err)
		}
		for i, v := range vals {
			if v < lo || v > hi {
				return nil, s.outside(i, v)
			}
		}
	}
	t, err := roles.FromInt64s(s.in.Elem, nil, vals)
	if err != nil {
		return nil, fmt.Errorf("%s: input %q: %w", s.file, s.in.Name, err)
	}
	return t.Data, nil
}

// intRange is the values an integer (or bool) type holds.
func intRange(dt model.DataType) (int64, int64) {
	switch dt {
	case model.Int32:
		return math.MinInt32, math.MaxInt32
	case model.Uint8:
		return 0, math.MaxUint8
	case model.Uint16:
		return 0, math.MaxUint16
	case onnxpb.TensorProto_BOOL:
		return 0, 1
	}
	return math.MinInt64, math.MaxInt64
}

// floats converts to a float32 or float64 input: float files widened, or
// narrowed where exact (a float32 file for a float32 input as it is);
// integer and bool files where the type holds them exactly.
func (s source) floats(kind byte) (any, error) {
	f32 := s.in.Elem == model.Float32
	if kind == 'f' && f32 && s.a.DType != "<f8" {
		v, err := s.a.Float32s()
		return v, wrap(s.file, err)
	}
	var vals []float64
	if kind == 'f' {
		var err error
		if vals, err = s.a.Float64s(); err != nil {
			return nil, wrap(s.file, err)
		}
	} else {
		ints, err := s.a.Int64s()
		if err != nil {
			return nil, wrap(s.file, err)
		}
		vals = make([]float64, len(ints))
		for i, v := range ints {
			if v < -1<<53 || v > 1<<53 {
				return nil, s.inexact(i, v)
			}
			vals[i] = float64(v)
		}
	}
	if !f32 {
		return vals, nil
	}
	out := make([]float32, len(vals))
	for i, v := range vals {
		out[i] = float32(v)
		if float64(out[i]) != v && !math.IsNaN(v) {
			return nil, s.inexact(i, v)
		}
	}
	return out, nil
}

// halves converts to a float16 or bfloat16 input: float16 files as they
// are for float16, float32 files rounded (as a float16 model's own export
// rounds them), integer and bool files where exact.
func (s source) halves(kind byte) (any, error) {
	bf := s.in.Elem == model.BFloat16
	round, back := half.FromFloat32, half.ToFloat32
	if bf {
		round, back = half.BFloat16FromFloat32, half.BFloat16ToFloat32
	}
	switch {
	case s.a.DType == "<f2" && !bf:
		v, err := s.a.Float16Bits()
		return v, wrap(s.file, err)
	case s.a.DType == "<f4":
		fs, err := s.a.Float32s()
		if err != nil {
			return nil, wrap(s.file, err)
		}
		out := make([]uint16, len(fs))
		for i, f := range fs {
			out[i] = round(f)
		}
		return out, nil
	case kind == 'f':
		return nil, fmt.Errorf("%s: dtype %q: input %q is %s, which takes float32 files (or float16 files for a float16 input)", s.file, s.a.DType, s.in.Name, model.DTypeName(s.in.Elem))
	}
	ints, err := s.a.Int64s()
	if err != nil {
		return nil, wrap(s.file, err)
	}
	out := make([]uint16, len(ints))
	for i, v := range ints {
		out[i] = round(float32(v))
		if float64(back(out[i])) != float64(v) {
			return nil, s.inexact(i, v)
		}
	}
	return out, nil
}

func wrap(file string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %w", file, err)
}
