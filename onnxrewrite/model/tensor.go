package model

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"unsafe"

	"github.com/embshrink/embshrink/internal/half"
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

// ElemBits is the storage size of one element, in bits, for the fixed-size
// types; 0 for strings and unknown types.
func ElemBits(dt DataType) int64 {
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

// NumElements multiplies dims, refusing negative dims and overflow so that a
// hostile shape never turns into a giant allocation.
func NumElements(dims []int64) (int64, error) {
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

// DataBytes is the size of a tensor's data in bytes, from its shape and type.
func DataBytes(t *onnxpb.TensorProto) (int64, error) {
	n, err := NumElements(t.Dims)
	if err != nil {
		return 0, err
	}
	bits := ElemBits(DataType(t.DataType))
	if bits == 0 {
		return 0, fmt.Errorf("element type %s has no fixed size", DTypeName(DataType(t.DataType)))
	}
	if n > math.MaxInt64/bits {
		return 0, fmt.Errorf("shape %v overflows", t.Dims)
	}
	return (n*bits + 7) / 8, nil
}

// StoredBytes is what a tensor's data takes, however it is stored; used for
// byte counts (strings count their bytes).
func StoredBytes(t *onnxpb.TensorProto) int64 {
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
	n, err := DataBytes(t)
	if err != nil {
		return 0
	}
	return n
}

func IsExternal(t *onnxpb.TensorProto) bool {
	return t.DataLocation == onnxpb.TensorProto_EXTERNAL
}

// TensorBytes returns a tensor's data as little-endian bytes, whichever field
// holds it (raw_data, a typed field, or external data). For a tensor stored in
// raw_data the result aliases it.
func (m *Model) TensorBytes(t *onnxpb.TensorProto) ([]byte, error) {
	want, err := DataBytes(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	if IsExternal(t) {
		buf := make([]byte, want)
		if err := m.readExternal(t, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	b, err := InlineBytes(t)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	if int64(len(b)) != want {
		return nil, fmt.Errorf("%s: tensor %q: has %d bytes of data, shape %v of %s needs %d",
			m.Path, t.Name, len(b), t.Dims, DTypeName(DataType(t.DataType)), want)
	}
	return b, nil
}

// InlineBytes encodes the data of a tensor stored inside the model.
func InlineBytes(t *onnxpb.TensorProto) ([]byte, error) {
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
		size := ElemBits(dt) / 8
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
		size := ElemBits(dt) / 8
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

// inlineLen is the length of what InlineBytes returns, computed without
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
		return ElemBits(dt) / 8 * int64(len(t.Uint64Data))
	case onnxpb.TensorProto_INT32:
		return 4 * int64(len(t.Int32Data))
	case onnxpb.TensorProto_UINT4, onnxpb.TensorProto_INT4, onnxpb.TensorProto_FLOAT4E2M1:
		return int64(len(t.Int32Data))
	}
	if size := ElemBits(dt) / 8; size == 1 || size == 2 {
		return size * int64(len(t.Int32Data))
	}
	return -1 // InlineBytes cannot read it
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

// Matrix is a dense row-major float32 matrix: its values are Data times
// 2^Exp.
type Matrix struct {
	Rows, Cols int
	Data       []float32
	// Exp is 0 but for a float64 table whose values lie beyond float32's
	// range, which Data holds divided by 2^Exp.
	Exp int
}

// Float32Values decodes a float tensor (float32, float16, bfloat16, float64)
// into float32, reading external data straight into the result so that a
// large table is held once.
func (m *Model) Float32Values(t *onnxpb.TensorProto) ([]float32, error) {
	n, err := NumElements(t.Dims)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	dt := DataType(t.DataType)
	switch dt {
	case onnxpb.TensorProto_FLOAT:
		if !IsExternal(t) && t.RawData == nil && len(t.FloatData) > 0 {
			if int64(len(t.FloatData)) != n {
				return nil, fmt.Errorf("%s: tensor %q: has %d values, shape %v needs %d", m.Path, t.Name, len(t.FloatData), t.Dims, n)
			}
			return append([]float32(nil), t.FloatData...), nil
		}
		// Check the size the data really has before allocating for the
		// size the shape claims.
		want, err := DataBytes(t)
		if err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
		}
		got := inlineLen(t)
		if IsExternal(t) {
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
		if IsExternal(t) {
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
				out[i] = half.ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
			case onnxpb.TensorProto_BFLOAT16:
				out[i] = half.BFloat16ToFloat32(binary.LittleEndian.Uint16(b[2*i:]))
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

// EncodeFloats stores float32 values as little-endian bytes of type dt
// (float32, float16, bfloat16 or float64), rounding to nearest even once.
func EncodeFloats(v []float32, dt DataType) ([]byte, error) {
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
			le.PutUint16(b[2*i:], half.FromFloat32(x))
		}
		return b, nil
	case onnxpb.TensorProto_BFLOAT16:
		b := make([]byte, 2*len(v))
		for i, x := range v {
			le.PutUint16(b[2*i:], half.BFloat16FromFloat32(x))
		}
		return b, nil
	}
	return nil, fmt.Errorf("cannot store floats as %s", DTypeName(dt))
}
