package codes

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/embshrink/embshrink/internal/npy"
)

// Write stores codes at codesPath ([Rows, M], uint8 for K <= 256, else
// uint16) and the codebook at bookPath (float32 [M*K, D]; float64 when its
// Exp is not 0, since its values are then beyond float32's range).
func Write(codesPath, bookPath string, c Codes, b Codebook) error {
	var ca *npy.Array
	if c.K <= 256 {
		v := make([]uint8, len(c.Data))
		for i, x := range c.Data {
			v[i] = uint8(x)
		}
		ca = npy.FromUint8([]int{c.Rows, c.M}, v)
	} else {
		ca = npy.FromUint16([]int{c.Rows, c.M}, c.Data)
	}
	if err := npy.WriteFile(codesPath, ca); err != nil {
		return err
	}
	if b.Exp == 0 {
		return npy.WriteFile(bookPath, npy.FromFloat32([]int{b.M * b.K, b.D}, b.Data))
	}
	v := make([]float64, len(b.Data))
	for i, x := range b.Data {
		if v[i] = math.Ldexp(float64(x), b.Exp); math.IsInf(v[i], 0) {
			return fmt.Errorf("%s: codebook row %d column %d, %g x 2^%d, is beyond float64's range", bookPath, i/max(b.D, 1), i%max(b.D, 1), x, b.Exp)
		}
	}
	return npy.WriteFile(bookPath, npy.FromFloat64([]int{b.M * b.K, b.D}, v))
}

// Read loads codes ([V, M], any integer dtype) and a codebook ([M*K, D] or
// [M, K, D], any float dtype) written by Write or by numpy, and checks that
// they fit each other: K comes from the codebook's shape. Errors name the
// file.
func Read(codesPath, bookPath string) (Codes, Codebook, error) {
	var c Codes
	var b Codebook
	ca, err := npy.ReadFile(codesPath)
	if err != nil {
		return c, b, err
	}
	if len(ca.Shape) != 2 {
		return c, b, fmt.Errorf("%s: codes must be 2-D [V, M], got shape %v", codesPath, ca.Shape)
	}
	ints, err := ca.Int64s()
	if err != nil {
		return c, b, fmt.Errorf("%s: codes: %w", codesPath, err)
	}
	ba, err := npy.ReadFile(bookPath)
	if err != nil {
		return c, b, err
	}
	vals, exp, err := bookValues(ba)
	if err != nil {
		return c, b, fmt.Errorf("%s: codebook: %w", bookPath, err)
	}
	m := ca.Shape[1]
	switch len(ba.Shape) {
	case 3:
		b = Codebook{M: ba.Shape[0], K: ba.Shape[1], D: ba.Shape[2], Data: vals}
	case 2:
		if m == 0 || ba.Shape[0]%m != 0 {
			return c, b, fmt.Errorf("%s: codebook has %d rows, not a multiple of the codes' M=%d", bookPath, ba.Shape[0], m)
		}
		b = Codebook{M: m, K: ba.Shape[0] / m, D: ba.Shape[1], Data: vals}
	default:
		return c, b, fmt.Errorf("%s: codebook must be [M*K, D] or [M, K, D], got shape %v", bookPath, ba.Shape)
	}
	if b.M != m {
		return c, b, fmt.Errorf("%s: codebook has %d groups, %s has M=%d", bookPath, b.M, codesPath, m)
	}
	b.Exp = exp
	c = Codes{Rows: ca.Shape[0], M: m, K: b.K, Data: make([]uint16, len(ints))}
	for i, v := range ints {
		if v < 0 || v >= int64(b.K) {
			return c, b, fmt.Errorf("%s: row %d group %d holds %d, outside [0, K=%d)", codesPath, i/max(m, 1), i%max(m, 1), v, b.K)
		}
		c.Data[i] = uint16(v)
	}
	return c, b, nil
}

// bookValues reads a float codebook as float32; a float64 one beyond
// float32's range is scaled into it by a power of two, returned as exp.
func bookValues(a *npy.Array) ([]float32, int, error) {
	if a.DType != "<f8" {
		v, err := a.Float32s()
		return v, 0, err
	}
	n := a.Len()
	if n < 0 || len(a.Data) != 8*n {
		v, err := a.Float32s() // its error
		return v, 0, err
	}
	v, exp := ScaledFloat32s(n, func(i int) float64 {
		return math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:]))
	})
	return v, exp, nil
}
