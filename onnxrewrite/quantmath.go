package onnxrewrite

import (
	"fmt"
	"math"

	"github.com/embshrink/embshrink/internal/half"
)

// QuantScheme is a reference quantisation of a table (see QuantizeTable).
type QuantScheme string

// Reference schemes.
const (
	// QuantFloat16 stores the table in float16, read through a Cast.
	QuantFloat16 QuantScheme = "float16"
	// QuantInt8Row stores int8 values with one float32 scale per row
	// (symmetric, zero point 0): x = q * scale[row].
	QuantInt8Row QuantScheme = "int8-row"
	// QuantInt4Block stores 4-bit values with one float32 scale per block
	// of Int4BlockSize values of a row (symmetric): x = q * scale[row, block].
	QuantInt4Block QuantScheme = "int4-block"
)

// Schemes lists the reference schemes in a fixed order.
var Schemes = []QuantScheme{QuantFloat16, QuantInt8Row, QuantInt4Block}

// Int4BlockSize is the largest block of QuantInt4Block; a table whose width
// it does not divide uses the largest power of two below it that does.
const Int4BlockSize = 32

// quantized is a table in one scheme: its values (float16 bits, or signed
// integers) and scales.
type quantized struct {
	scheme     QuantScheme
	rows, cols int
	block      int       // values per scale along a row (int8: cols)
	half       []uint16  // float16 bits, for QuantFloat16
	q          []int8    // integers, for int8 and int4
	scales     []float32 // [rows, cols/block]
}

// int4Block is the block size of QuantInt4Block for a table cols wide.
func int4Block(cols int) int {
	for b := Int4BlockSize; b > 1; b /= 2 {
		if cols%b == 0 {
			return b
		}
	}
	return Int4BlockSize // odd width: the last block is partial
}

// quantize puts v [rows, cols] in the scheme.
func quantize(v []float32, rows, cols int, scheme QuantScheme) (*quantized, error) {
	if len(v) != rows*cols {
		return nil, fmt.Errorf("quantize: %d values for [%d, %d]", len(v), rows, cols)
	}
	qt := &quantized{scheme: scheme, rows: rows, cols: cols}
	switch scheme {
	case QuantFloat16:
		qt.half = make([]uint16, len(v))
		for i, x := range v {
			qt.half[i] = half.FromFloat32(x)
		}
		return qt, nil
	case QuantInt8Row:
		qt.block = cols
		qt.symmetric(v, 127)
	case QuantInt4Block:
		qt.block = min(int4Block(cols), cols)
		qt.symmetric(v, 7)
	default:
		return nil, fmt.Errorf("quantization scheme %q: want one of %q", scheme, Schemes)
	}
	return qt, nil
}

// blocks is the number of scales per row.
func (qt *quantized) blocks() int { return (qt.cols + qt.block - 1) / qt.block }

// symmetric sets one scale per block, max|x|/top, and q = round(x/scale)
// clamped to [-top, top]. An all-zero block gets scale 1.
func (qt *quantized) symmetric(v []float32, top float32) {
	nb := qt.blocks()
	qt.q = make([]int8, len(v))
	qt.scales = make([]float32, qt.rows*nb)
	for r := 0; r < qt.rows; r++ {
		for b := 0; b < nb; b++ {
			lo, hi := r*qt.cols+b*qt.block, r*qt.cols+min((b+1)*qt.block, qt.cols)
			var amax float32
			for _, x := range v[lo:hi] {
				amax = max(amax, float32(math.Abs(float64(x))))
			}
			scale := amax / top
			if scale == 0 || math.IsInf(float64(scale), 0) || math.IsNaN(float64(scale)) {
				scale = 1
			}
			qt.scales[r*nb+b] = scale
			for i := lo; i < hi; i++ {
				x := math.Round(float64(v[i] / scale))
				qt.q[i] = int8(max(-float64(top), min(float64(top), x)))
			}
		}
	}
}

// dequantize is the table the scheme's subgraph computes, in float32: the
// float16 value widened, or float32(q) * scale, as ONNX's Cast and
// DequantizeLinear define them.
func (qt *quantized) dequantize() []float32 {
	out := make([]float32, qt.rows*qt.cols)
	if qt.half != nil {
		for i, h := range qt.half {
			out[i] = half.ToFloat32(h)
		}
		return out
	}
	nb := qt.blocks()
	for i, q := range qt.q {
		r, c := i/qt.cols, i%qt.cols
		out[i] = float32(q) * qt.scales[r*nb+c/qt.block]
	}
	return out
}

// Dequantized returns the table v [rows, cols] after a round trip through
// the scheme: what the model QuantizeTable writes reads as the table.
func Dequantized(v []float32, rows, cols int, scheme QuantScheme) ([]float32, error) {
	qt, err := quantize(v, rows, cols, scheme)
	if err != nil {
		return nil, err
	}
	return qt.dequantize(), nil
}

// RelSqErr is sum (y-x)^2 / sum x^2 (0 when x is all zeros and y equals it).
func RelSqErr(x, y []float32) float64 {
	var num, den float64
	for i := range x {
		d := float64(y[i]) - float64(x[i])
		num += d * d
		den += float64(x[i]) * float64(x[i])
	}
	if den == 0 {
		if num == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return num / den
}
