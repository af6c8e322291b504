package npy

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/embshrink/embshrink/internal/half"
)

// Float32s returns the elements of a float array (f2, f4 or f8) as float32.
// float64 values are rounded to the nearest float32.
func (a *Array) Float32s() ([]float32, error) {
	d, err := a.check()
	if err != nil {
		return nil, err
	}
	if d.kind != 'f' {
		return nil, fmt.Errorf("npy: Float32s of a %s array; want a float dtype", d)
	}
	out := make([]float32, len(a.Data)/d.size)
	le := binary.LittleEndian
	for i := range out {
		b := a.Data[i*d.size:]
		switch d.size {
		case 2:
			out[i] = half.ToFloat32(le.Uint16(b))
		case 4:
			out[i] = math.Float32frombits(le.Uint32(b))
		case 8:
			out[i] = float32(math.Float64frombits(le.Uint64(b)))
		}
	}
	return out, nil
}

// AsFloat32s returns the elements of any array (float, integer or bool) as
// float32, each rounded once to the nearest float32, as numpy's
// astype(np.float32) does: float arrays give what Float32s gives, integers
// beyond 2^24 lose their low bits, booleans become 0 or 1, and float64
// values beyond float32's range become infinities.
func (a *Array) AsFloat32s() ([]float32, error) {
	d, err := a.check()
	if err != nil {
		return nil, err
	}
	if d.kind == 'f' {
		return a.Float32s()
	}
	out := make([]float32, len(a.Data)/d.size)
	le := binary.LittleEndian
	for i := range out {
		b := a.Data[i*d.size:]
		// Each integer converts to float32 directly: through float64,
		// an int64 above 2^53 would be rounded twice.
		switch {
		case d.kind == 'b':
			if b[0] != 0 {
				out[i] = 1
			}
		case d.kind == 'i' && d.size == 1:
			out[i] = float32(int8(b[0]))
		case d.kind == 'i' && d.size == 2:
			out[i] = float32(int16(le.Uint16(b)))
		case d.kind == 'i' && d.size == 4:
			out[i] = float32(int32(le.Uint32(b)))
		case d.kind == 'i':
			out[i] = float32(int64(le.Uint64(b)))
		case d.size == 1:
			out[i] = float32(b[0])
		case d.size == 2:
			out[i] = float32(le.Uint16(b))
		case d.size == 4:
			out[i] = float32(le.Uint32(b))
		default:
			out[i] = float32(le.Uint64(b))
		}
	}
	return out, nil
}

// Int64s returns the elements of an integer or bool array as int64. Booleans
// become 0 or 1. A u8 value above math.MaxInt64 is an error.
func (a *Array) Int64s() ([]int64, error) {
	d, err := a.check()
	if err != nil {
		return nil, err
	}
	if d.kind == 'f' {
		return nil, fmt.Errorf("npy: Int64s of a %s array; want an integer or bool dtype", d)
	}
	out := make([]int64, len(a.Data)/d.size)
	le := binary.LittleEndian
	for i := range out {
		b := a.Data[i*d.size:]
		var v int64
		switch {
		case d.kind == 'b':
			if b[0] != 0 {
				v = 1
			}
		case d.kind == 'i' && d.size == 1:
			v = int64(int8(b[0]))
		case d.kind == 'i' && d.size == 2:
			v = int64(int16(le.Uint16(b)))
		case d.kind == 'i' && d.size == 4:
			v = int64(int32(le.Uint32(b)))
		case d.kind == 'i' && d.size == 8:
			v = int64(le.Uint64(b))
		case d.size == 1:
			v = int64(b[0])
		case d.size == 2:
			v = int64(le.Uint16(b))
		case d.size == 4:
			v = int64(le.Uint32(b))
		default:
			u := le.Uint64(b)
			if u > math.MaxInt64 {
				return nil, fmt.Errorf("npy: element %d of a %s array is %d, which does not fit in int64", i, d, u)
			}
			v = int64(u)
		}
		out[i] = v
	}
	return out, nil
}

func fromWords[T any](descr string, size int, shape []int, v []T, put func([]byte, T)) *Array {
	data := make([]byte, len(v)*size)
	for i, x := range v {
		put(data[i*size:], x)
	}
	return &Array{DType: descr, Shape: slices.Clone(shapeOrScalar(shape)), Data: data}
}

func shapeOrScalar(shape []int) []int {
	if shape == nil {
		return []int{}
	}
	return shape
}

// The From functions build an Array of the given shape from a copy of v.
// A nil or empty shape is a scalar. They do not check that the shape
// matches len(v); Write and the accessors report a mismatch.

// FromFloat32 returns a "<f4" array.
func FromFloat32(shape []int, v []float32) *Array {
	return fromWords("<f4", 4, shape, v, func(b []byte, x float32) {
		binary.LittleEndian.PutUint32(b, math.Float32bits(x))
	})
}

// FromFloat64 returns a "<f8" array.
func FromFloat64(shape []int, v []float64) *Array {
	return fromWords("<f8", 8, shape, v, func(b []byte, x float64) {
		binary.LittleEndian.PutUint64(b, math.Float64bits(x))
	})
}

// FromUint8 returns a "|u1" array.
func FromUint8(shape []int, v []uint8) *Array {
	return &Array{DType: "|u1", Shape: slices.Clone(shapeOrScalar(shape)), Data: slices.Clone(v)}
}

// FromUint16 returns a "<u2" array.
func FromUint16(shape []int, v []uint16) *Array {
	return fromWords("<u2", 2, shape, v, binary.LittleEndian.PutUint16)
}

// FromInt32 returns a "<i4" array.
func FromInt32(shape []int, v []int32) *Array {
	return fromWords("<i4", 4, shape, v, func(b []byte, x int32) {
		binary.LittleEndian.PutUint32(b, uint32(x))
	})
}

// FromInt64 returns a "<i8" array.
func FromInt64(shape []int, v []int64) *Array {
	return fromWords("<i8", 8, shape, v, func(b []byte, x int64) {
		binary.LittleEndian.PutUint64(b, uint64(x))
	})
}

// Float64s returns the elements of a float array (f2, f4 or f8) as
// float64, exactly.
func (a *Array) Float64s() ([]float64, error) {
	d, err := a.check()
	if err != nil {
		return nil, err
	}
	if d.kind != 'f' {
		return nil, fmt.Errorf("npy: Float64s of a %s array; want a float dtype", d)
	}
	if d.size != 8 {
		f, err := a.Float32s()
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out, err
	}
	out := make([]float64, len(a.Data)/8)
	for i := range out {
		out[i] = math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:]))
	}
	return out, nil
}

// Float16Bits returns the elements of an f2 array as their IEEE half
// bits.
func (a *Array) Float16Bits() ([]uint16, error) {
	d, err := a.check()
	if err != nil {
		return nil, err
	}
	if d.kind != 'f' || d.size != 2 {
		return nil, fmt.Errorf("npy: Float16Bits of a %s array; want <f2", d)
	}
	out := make([]uint16, len(a.Data)/2)
	for i := range out {
		out[i] = binary.LittleEndian.Uint16(a.Data[2*i:])
	}
	return out, nil
}
