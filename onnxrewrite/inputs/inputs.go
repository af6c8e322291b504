// Package inputs reads a model's inputs from .npy files (NAME=FILE.npy, or
// FILE.npy for a model with one integer input), converting integer values
// to the input's declared element type with range checks. It is shared by
// calibration and validation; it runs nothing.
package inputs

import (
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// Load reads inputs for the model from .npy files.
// A spec is NAME=FILE.npy, or just FILE.npy when the model has exactly one
// integer input. The file may hold any integer dtype; its values are
// converted to the input's element type (int64, int32, uint8 or uint16),
// and an out-of-range value is an error.
//
// The file's rank must be the input's declared rank, and its sizes must
// match the input's static dimensions: a [batch, seq] input takes a
// [rows, seq] file as it is. The one reshape is for a rank-1 input, which
// takes a file of any rank flattened in C order. Anything else is an error
// naming the file and the input.
func Load(m *model.Model, specs []string) (map[string]ort.HostTensor, error) {
	ins := model.Inputs(m)
	byName := map[string]model.Input{}
	var ints []string
	var names []string
	for _, in := range ins {
		byName[in.Name] = in
		names = append(names, in.Name)
		if model.IsInteger(in.Elem) {
			ints = append(ints, in.Name)
		}
	}
	out := map[string]ort.HostTensor{}
	for _, spec := range specs {
		name, file := "", spec
		if i := strings.Index(spec, "="); i >= 0 {
			if _, ok := byName[spec[:i]]; ok {
				name, file = spec[:i], spec[i+1:]
			} else if _, err := os.Stat(spec); err != nil {
				return nil, fmt.Errorf("%s: calibration %q: the model has no input %q; its inputs are %q", m.Path, spec, spec[:i], names)
			}
		}
		if name == "" {
			if len(ints) != 1 {
				return nil, fmt.Errorf("%s: calibration %q: the model has %d integer inputs %q; say which one as NAME=FILE.npy", m.Path, spec, len(ints), ints)
			}
			name = ints[0]
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s: calibration input %q is given twice", m.Path, name)
		}
		t, err := readCalibration(file, byName[name])
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// readCalibration reads one .npy file for the input in.
func readCalibration(file string, in model.Input) (ort.HostTensor, error) {
	a, err := npy.ReadFile(file)
	if err != nil {
		return ort.HostTensor{}, err
	}
	if len(a.DType) < 2 || (a.DType[1] != 'i' && a.DType[1] != 'u') {
		return ort.HostTensor{}, fmt.Errorf("%s: dtype %q: calibration ids for input %q must be integers", file, a.DType, in.Name)
	}
	vals, err := a.Int64s()
	if err != nil {
		return ort.HostTensor{}, fmt.Errorf("%s: %w", file, err)
	}
	if len(vals) == 0 {
		return ort.HostTensor{}, fmt.Errorf("%s: shape %v holds no ids", file, a.Shape)
	}
	shape := make([]int64, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	switch {
	case in.Shape == nil:
		// Rank unknown: take the file as it is.
	case len(in.Shape) == 1:
		shape = []int64{int64(len(vals))}
	case len(in.Shape) != len(shape):
		return ort.HostTensor{}, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: the ranks differ", file, a.Shape, in.Name, model.DimsString(in.Shape, in.DimParams))
	default:
		for i, d := range in.Shape {
			if d >= 0 && d != shape[i] {
				return ort.HostTensor{}, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: dimension %d is %d, want %d", file, a.Shape, in.Name, model.DimsString(in.Shape, in.DimParams), i, shape[i], d)
			}
		}
	}
	t := ort.HostTensor{Shape: shape, Elem: in.Elem}
	bad := func(lo, hi int64) error {
		for i, v := range vals {
			if v < lo || v > hi {
				return fmt.Errorf("%s: element %d is %d, outside input %q's type %s", file, i, v, in.Name, model.DTypeName(in.Elem))
			}
		}
		return nil
	}
	switch in.Elem {
	case model.Int64:
		t.Data = vals
	case model.Int32:
		if err := bad(math.MinInt32, math.MaxInt32); err != nil {
			return ort.HostTensor{}, err
		}
		t.Data = ConvertInts[int32](vals)
	case model.Uint8:
		if err := bad(0, math.MaxUint8); err != nil {
			return ort.HostTensor{}, err
		}
		t.Data = ConvertInts[uint8](vals)
	case model.Uint16:
		if err := bad(0, math.MaxUint16); err != nil {
			return ort.HostTensor{}, err
		}
		t.Data = ConvertInts[uint16](vals)
	default:
		return ort.HostTensor{}, fmt.Errorf("%s: input %q is %s; calibration files feed int64, int32, uint8 or uint16 inputs", file, in.Name, model.DTypeName(in.Elem))
	}
	return t, nil
}

// ConvertInts narrows int64 values the caller has checked to fit T.
func ConvertInts[T int32 | uint8 | uint16](v []int64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}
