package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// DataType is an ONNX tensor element type.
type DataType = onnxpb.TensorProto_DataType

// Element types this package names; the rest of onnxpb's enum is carried
// through untouched.
const (
	Float32  = onnxpb.TensorProto_FLOAT
	Float16  = onnxpb.TensorProto_FLOAT16
	BFloat16 = onnxpb.TensorProto_BFLOAT16
	Float64  = onnxpb.TensorProto_DOUBLE
	Uint8    = onnxpb.TensorProto_UINT8
	Uint16   = onnxpb.TensorProto_UINT16
	Int32    = onnxpb.TensorProto_INT32
	Int64    = onnxpb.TensorProto_INT64
)

// elemBits is the storage size of one element, in bits, for the fixed-size
// types; 0 for strings and unknown types.
func elemBits(dt DataType) int64 {
	switch dt {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_INT32, onnxpb.TensorProto_UINT32:
		return 32
	case onnxpb.TensorProto_UINT8, onnxpb.TensorProto_INT8, onnxpb.TensorProto_BOOL,
		onnxpb.TensorProto_FLOAT8E4M3FN, onnxpb.TensorProto_FLOAT8E4M3FNUZ,
		onnxpb.TensorProto_FLOAT8E5M2, onnxpb.TensorProto_FLOAT8E5M2FNUZ:
		return 8
	case onnxpb.TensorProto_UINT16, onnxpb.TensorProto_INT16, onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16:
		return 16
	case onnxpb.TensorProto_INT64, onnxpb.TensorProto_UINT64, onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_COMPLEX64:
		return 64
	case onnxpb.TensorProto_COMPLEX128:
		return 128
	case onnxpb.TensorProto_UINT4, onnxpb.TensorProto_INT4, onnxpb.TensorProto_FLOAT4E2M1:
		return 4
	}
	return 0
}

// DTypeName is the lower-case name users see: float32, float16, bfloat16, ...
func DTypeName(dt DataType) string {
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		return "float32"
	case onnxpb.TensorProto_DOUBLE:
		return "float64"
	case onnxpb.TensorProto_UNDEFINED:
		return "undefined"
	}
	if name, ok := onnxpb.TensorProto_DataType_name[int32(dt)]; ok {
		return lower(name)
	}
	return fmt.Sprintf("type%d", int32(dt))
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// numElements multiplies dims, refusing negative dims and overflow so that a
// hostile shape never turns into a giant allocation.
func numElements(dims []int64) (int64, error) {
	n := int64(1)
	for _, d := range dims {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d", d)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v overflows", dims)
		}
		n *= d
	}
	return n, nil
}

// dataBytes is the size of a tensor's data in bytes, from its shape and type.
func dataBytes(t *onnxpb.TensorProto) (int64, error) {
	n, err := numElements(t.Dims)
	if err != nil {
		return 0, err
	}
	bits := elemBits(DataType(t.DataType))
	if bits == 0 {
		return 0, fmt.Errorf("element type %s has no fixed size", DTypeName(DataType(t.DataType)))
	}
	if n > math.MaxInt64/bits {
		return 0, fmt.Errorf("shape %v overflows", t.Dims)
	}
	return (n*bits + 7) / 8, nil
}

// storedBytes is what a tensor's data takes, however it is stored; used for
// byte counts (strings count their bytes).
func storedBytes(t *onnxpb.TensorProto) int64 {
	if t == nil {
		return 0
	}
	if DataType(t.DataType) == onnxpb.TensorProto_STRING {
		var n int64
		for _, s := range t.StringData {
			n += int64(len(s))
		}
		return n
	}
	n, err := dataBytes(t)
	if err != nil {
		return 0
	}
	return n
}

func isExternal(t *onnxpb.TensorProto) bool {
	return t.DataLocation == onnxpb.TensorProto_EXTERNAL
}

// TensorBytes returns a tensor's data as little-endian bytes, whichever field
// holds it (raw_data, a typed field, or external data). For a tensor stored in
// raw_data the result aliases it.
func (m *Model) TensorBytes(t *onnxpb.TensorProto) ([]byte, error) {
	want, err := dataBytes(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	if isExternal(t) {
		buf := make([]byte, want)
		if err := m.readExternal(t, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	b, err := inlineBytes(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	if int64(len(b)) != want {
		return nil, fmt.Errorf("%s: tensor %q: has %d bytes of data, shape %v of %s needs %d",
			m.Path, t.Name, len(b), t.Dims, DTypeName(DataType(t.DataType)), want)
	}
	return b, nil
}

// inlineBytes encodes the data of a tensor stored inside the model.
func inlineBytes(t *onnxpb.TensorProto) ([]byte, error) {
	if t.RawData != nil || (len(t.FloatData) == 0 && len(t.Int32Data) == 0 && len(t.Int64Data) == 0 &&
		len(t.DoubleData) == 0 && len(t.Uint64Data) == 0) {
		return t.RawData, nil
	}
	dt := DataType(t.DataType)
	le := binary.LittleEndian
	switch dt {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_COMPLEX64:
		b := make([]byte, 4*len(t.FloatData))
		for i, v := range t.FloatData {
			le.PutUint32(b[4*i:], math.Float32bits(v))
		}
		return b, nil
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_COMPLEX128:
		b := make([]byte, 8*len(t.DoubleData))
		for i, v := range t.DoubleData {
			le.PutUint64(b[8*i:], math.Float64bits(v))
		}
		return b, nil
	case onnxpb.TensorProto_INT64:
		b := make([]byte, 8*len(t.Int64Data))
		for i, v := range t.Int64Data {
			le.PutUint64(b[8*i:], uint64(v))
		}
		return b, nil
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		size := elemBits(dt) / 8
		b := make([]byte, size*int64(len(t.Uint64Data)))
		for i, v := range t.Uint64Data {
			if size == 4 {
				le.PutUint32(b[4*i:], uint32(v))
			} else {
				le.PutUint64(b[8*i:], v)
			}
		}
		return b, nil
	case onnxpb.TensorProto_INT32:
		b := make([]byte, 4*len(t.Int32Data))
		for i, v := range t.Int32Data {
			le.PutUint32(b[4*i:], uint32(v))
		}
		return b, nil
	case onnxpb.TensorProto_UINT4, onnxpb.TensorProto_INT4, onnxpb.TensorProto_FLOAT4E2M1:
		// Two elements per int32_data entry's low byte.
		b := make([]byte, len(t.Int32Data))
		for i, v := range t.Int32Data {
			b[i] = byte(v)
		}
		return b, nil
	default:
		// 8- and 16-bit types keep one element per int32_data entry.
		size := elemBits(dt) / 8
		if size != 1 && size != 2 {
			return nil, fmt.Errorf("cannot read %s data from typed fields", DTypeName(dt))
		}
		b := make([]byte, size*int64(len(t.Int32Data)))
		for i, v := range t.Int32Data {
			if size == 1 {
				b[i] = byte(v)
			} else {
				le.PutUint16(b[2*i:], uint16(v))
			}
		}
		return b, nil
	}
}

// inlineLen is the length of what inlineBytes returns, computed without
// encoding anything.
func inlineLen(t *onnxpb.TensorProto) int64 {
	if t.RawData != nil || (len(t.FloatData) == 0 && len(t.Int32Data) == 0 && len(t.Int64Data) == 0 &&
		len(t.DoubleData) == 0 && len(t.Uint64Data) == 0) {
		return int64(len(t.RawData))
	}
	dt := DataType(t.DataType)
	switch dt {
	case onnxpb.TensorProto_FLOAT, onnxpb.TensorProto_COMPLEX64:
		return 4 * int64(len(t.FloatData))
	case onnxpb.TensorProto_DOUBLE, onnxpb.TensorProto_COMPLEX128:
		return 8 * int64(len(t.DoubleData))
	case onnxpb.TensorProto_INT64:
		return 8 * int64(len(t.Int64Data))
	case onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		return elemBits(dt) / 8 * int64(len(t.Uint64Data))
	case onnxpb.TensorProto_INT32:
		return 4 * int64(len(t.Int32Data))
	case onnxpb.TensorProto_UINT4, onnxpb.TensorProto_INT4, onnxpb.TensorProto_FLOAT4E2M1:
		return int64(len(t.Int32Data))
	}
	if size := elemBits(dt) / 8; size == 1 || size == 2 {
		return size * int64(len(t.Int32Data))
	}
	return -1 // inlineBytes cannot read it
}

// readExternal fills buf with an external tensor's bytes.
func (m *Model) readExternal(t *onnxpb.TensorProto, buf []byte) error {
	loc, ok := m.ext[t]
	if !ok {
		return fmt.Errorf("%s: tensor %q: external data was not resolved at load", m.Path, t.Name)
	}
	if int64(len(buf)) != loc.length {
		return fmt.Errorf("%s: tensor %q: external data is %d bytes, shape needs %d", m.Path, t.Name, loc.length, len(buf))
	}
	f, err := os.Open(loc.file)
	if err != nil {
		return fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	defer f.Close()
	if _, err := f.ReadAt(buf, loc.offset); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return fmt.Errorf("%s: tensor %q: reading %s: %w", m.Path, t.Name, loc.file, err)
	}
	return nil
}

// Matrix is a dense row-major float32 matrix.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// Float32Values decodes a float tensor (float32, float16, bfloat16, float64)
// into float32, reading external data straight into the result so that a
// large table is held once.
func (m *Model) Float32Values(t *onnxpb.TensorProto) ([]float32, error) {
	n, err := numElements(t.Dims)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	dt := DataType(t.DataType)
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		if !isExternal(t) && t.RawData == nil && len(t.FloatData) > 0 {
			if int64(len(t.FloatData)) != n {
				return nil, fmt.Errorf("%s: tensor %q: has %d values, shape %v needs %d", m.Path, t.Name, len(t.FloatData), t.Dims, n)
			}
			return append([]float32(nil), t.FloatData...), nil
		}
		// Check the size the data really has before allocating for the
		// size the shape claims.
		want, err := dataBytes(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
		}
		got := inlineLen(t)
		if isExternal(t) {
			got = -1
			if loc, ok := m.ext[t]; ok {
				got = loc.length
			}
		}
		if got != want {
			return nil, fmt.Errorf("%s: tensor %q: has %d bytes of data, shape %v of float32 needs %d", m.Path, t.Name, got, t.Dims, want)
		}
		out := make([]float32, n)
		raw := unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(out))), 4*n)
		if isExternal(t) {
			if err := m.readExternal(t, raw); err != nil {
				return nil, err
			}
		} else {
			b, err := m.TensorBytes(t)
			if err != nil {
				return nil, err
			}
			copy(raw, b)
		}
		if !littleEndianHost {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		return out, nil
	case onnxpb.TensorProto_FLOAT16, onnxpb.TensorProto_BFLOAT16, onnxpb.TensorProto_DOUBLE:
		b, err := m.TensorBytes(t)
		if err != nil {
			return nil, err
		}
		out := make([]float32, n)
		for i := range out {
			switch dt {
			case onnxpb.TensorProto_FLOAT16:
				out[i] = HalfToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			case onnxpb.TensorProto_BFLOAT16:
				out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(b[2*i:])) << 16)
			default:
				out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:])))
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("%s: tensor %q: element type %s is not a float type", m.Path, t.Name, DTypeName(dt))
}

var littleEndianHost = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// encodeFloats stores float32 values as little-endian bytes of type dt
// (float32, float16, bfloat16 or float64), rounding to nearest even once.
func encodeFloats(v []float32, dt DataType) ([]byte, error) {
	le := binary.LittleEndian
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		b := make([]byte, 4*len(v))
		for i, x := range v {
			le.PutUint32(b[4*i:], math.Float32bits(x))
		}
		return b, nil
	case onnxpb.TensorProto_DOUBLE:
		b := make([]byte, 8*len(v))
		for i, x := range v {
			le.PutUint64(b[8*i:], math.Float64bits(float64(x)))
		}
		return b, nil
	case onnxpb.TensorProto_FLOAT16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			le.PutUint16(b[2*i:], Float32ToHalf(x))
		}
		return b, nil
	case onnxpb.TensorProto_BFLOAT16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			le.PutUint16(b[2*i:], Float32ToBFloat16(x))
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot store floats as %s", DTypeName(dt))
}

// Float32ToBFloat16 rounds to the nearest bfloat16, ties to even; NaN stays NaN.
func Float32ToBFloat16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return uint16(u>>16) | 0x40
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// HalfToFloat32 widens an IEEE 754 half-precision value exactly.
func HalfToFloat32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	case exp == 0:
		if frac == 0 {
			return math.Float32frombits(sign)
		}
		// Subnormal: value is frac * 2^-24.
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// Float32ToHalf rounds to the nearest IEEE 754 half-precision value, ties to
// even, overflowing to infinity.
func Float32ToHalf(f float32) uint16 {
	u := math.Float32bits(f)
	sign := uint16(u>>16) & 0x8000
	exp := int32(u>>23) & 0xff
	frac := u & 0x7fffff
	if exp == 0xff {
		if frac != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		// Subnormal half: shift the full mantissa (with implicit bit) into place.
		m := frac | 0x800000
		shift := uint32(14 - e)
		half := m >> shift
		rem := m & (1<<shift - 1)
		mid := uint32(1) << (shift - 1)
		if rem > mid || (rem == mid && half&1 == 1) {
			half++
		}
		return sign | uint16(half)
	}
	half := uint32(e)<<10 | frac>>13
	rem := frac & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && half&1 == 1) {
		half++ // may carry into the exponent, which is the right rounding
	}
	return sign | uint16(half)
}
