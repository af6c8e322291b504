package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Rotary position caches: Llama-style exports gather cos_cached and
// sin_cached [ctx, d] by position ids. Each column c of such a table is
// cos(r*w_c) (or sin) of the row index r: values computed from a formula,
// not learned, which compress leaves out of its default tables
// (Table.Computed). A table is taken for one when row 0 is all ones (cos)
// or all zeros (sin) and every value of the rows read matches the
// sinusoid, with w_c unwrapped from rows 1, 2, 4, 8, ...: the angle is
// known better the further the row, and each row's estimate picks the
// branch of the next.

// Kinds of computed table (Table.Computed).
const (
	RotaryCos = "rotary cos cache"
	RotarySin = "rotary sin cache"
)

// rotaryTol is how far a value may be from its sinusoid: the table's
// rounding, and the float32 rounding of the angle r*w_c that exporters
// compute before the cos or sin (half an ulp of up to rows*pi).
func rotaryTol(dt model.DataType, rows int64) float64 {
	tol := 1e-4
	switch dt {
	case model.Float16:
		tol = 2e-3
	case model.BFloat16:
		tol = 1.6e-2
	}
	return tol + float64(rows)*math.Pi*math.Ldexp(1, -24)*2
}

// rotaryCache says whether float table tb holds a rotary cos or sin cache:
// RotaryCos, RotarySin or "". It reads row 0 and, when that fits, about 30
// more rows, whatever the table's size.
func rotaryCache(m *model.Model, tb *Table) (string, error) {
	rows, cols := tb.Shape[0], tb.Shape[1]
	t := tb.def.tensor
	dt := model.DataType(t.DataType)
	if tb.Quantized != nil || rows < 4 || cols < 1 {
		return "", nil
	}
	r, closeR, err := m.TensorReaderAt(t)
	if err != nil {
		return "", err
	}
	defer closeR()
	rd := &rowReader{r: r, dt: dt, cols: cols}
	tol := rotaryTol(dt, rows)
	row0, err := rd.row(0)
	if err != nil {
		return "", fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	kind, f := RotaryCos, math.Cos
	if !allNear(row0, 1, tol) {
		if !allNear(row0, 0, tol) {
			return "", nil
		}
		kind, f = RotarySin, math.Sin
	}
	w, err := rotaryFreqs(rd, rows, kind == RotarySin)
	if err != nil {
		return "", fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	varies := false
	for _, x := range w {
		varies = varies || math.Abs(x)*float64(rows-1) >= 1
	}
	if !varies {
		return "", nil // constant columns: no sinusoid to speak of
	}
	check := []int64{1, 2, 3, rows - 1}
	if rows > copySampleRows {
		check = append(check, sampleRows(rows, cols)...)
	}
	for _, i := range check {
		v, err := rd.row(i)
		if err != nil {
			return "", fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
		}
		for c, x := range v {
			if math.Abs(x-f(float64(i)*w[c])) > tol {
				return "", nil
			}
		}
	}
	return kind, nil
}

// rotaryFreqs estimates each column's angular frequency from rows 1, 2,
// 4, ... of a cos (or sin) table: each row's angle, among the branches its
// value allows, is the one nearest the angle the estimate so far predicts.
func rotaryFreqs(rd *rowReader, rows int64, sin bool) ([]float64, error) {
	v1, err := rd.row(1)
	if err != nil {
		return nil, err
	}
	v2, err := rd.row(2)
	if err != nil {
		return nil, err
	}
	w := make([]float64, len(v1))
	for c, x := range v1 {
		if !sin {
			w[c] = math.Acos(clamp1(x))
			continue
		}
		// sin(w) = x holds for w and pi-w; row 2 tells them apart.
		a := math.Asin(clamp1(x))
		w[c] = a
		if math.Abs(math.Sin(2*(math.Pi-a))-v2[c]) < math.Abs(math.Sin(2*a)-v2[c]) {
			w[c] = math.Pi - a
		}
	}
	for r := int64(2); r < rows; r *= 2 {
		v, err := rd.row(r)
		if err != nil {
			return nil, err
		}
		for c, x := range v {
			var branches [2]float64
			if sin {
				a := math.Asin(clamp1(x))
				branches = [2]float64{a, math.Pi - a}
			} else {
				a := math.Acos(clamp1(x))
				branches = [2]float64{a, -a}
			}
			want := float64(r) * w[c]
			best := math.Inf(1)
			for _, b := range branches {
				k := math.Round((want - b) / (2 * math.Pi))
				if ang := b + 2*math.Pi*k; math.Abs(ang-want) < math.Abs(best-want) {
					best = ang
				}
			}
			w[c] = best / float64(r)
		}
	}
	return w, nil
}

func clamp1(x float64) float64 { return math.Max(-1, math.Min(1, x)) }

func allNear(v []float64, want, tol float64) bool {
	for _, x := range v {
		if math.Abs(x-want) > tol {
			return false
		}
	}
	return true
}

// rowReader reads single rows of a float table as float64.
type rowReader struct {
	r    io.ReaderAt
	dt   model.DataType
	cols int64
}

func (rd *rowReader) row(i int64) ([]float64, error) {
	es := model.ElemBits(rd.dt) / 8
	b := make([]byte, rd.cols*es)
	if _, err := rd.r.ReadAt(b, i*rd.cols*es); err != nil {
		return nil, fmt.Errorf("row %d: %w", i, err)
	}
	out := make([]float64, rd.cols)
	for j := range out {
		switch rd.dt {
		case onnxpb.TensorProto_FLOAT:
			out[j] = float64(math.Float32frombits(binary.LittleEndian.Uint32(b[4*j:])))
		case onnxpb.TensorProto_DOUBLE:
			out[j] = math.Float64frombits(binary.LittleEndian.Uint64(b[8*j:]))
		case onnxpb.TensorProto_FLOAT16:
			out[j] = float64(half.ToFloat32(binary.LittleEndian.Uint16(b[2*j:])))
		case onnxpb.TensorProto_BFLOAT16:
			out[j] = float64(half.BFloat16ToFloat32(binary.LittleEndian.Uint16(b[2*j:])))
		default:
			return nil, fmt.Errorf("element type %s is not a float type", model.DTypeName(rd.dt))
		}
	}
	return out, nil
}
