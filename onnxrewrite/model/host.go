package model

import (
	"fmt"
	"math"
)

// HostTensor is a plain tensor on the Go side: what a model is fed and
// returns in ONNX Runtime (ort.HostTensor is this type), made and read by
// pure-Go packages too.
type HostTensor struct {
	// Shape holds the dimensions; empty for a scalar.
	Shape []int64
	// Data holds the elements in row-major order: a []float32, []float64,
	// []int64, []int32, []uint8, []uint16 or []bool. float16 and bfloat16
	// elements are their bits in a []uint16, with Elem set accordingly.
	Data any
	// Elem is the element type. It may be left zero (UNDEFINED) on inputs
	// whose Data type says it all; float16 and bfloat16 inputs must set it.
	Elem DataType
}

// ElemCount is the number of elements of a shape, refusing negative
// dimensions and counts whose bytes would overflow.
func ElemCount(shape []int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/8/d) {
			return 0, fmt.Errorf("invalid shape %v", shape)
		}
		n *= d
	}
	return int(n), nil
}
