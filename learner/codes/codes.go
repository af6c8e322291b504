// Package codes holds compositional codes and their codebook: the value type
// that learning produces and a rewrite consumes, its checks, its decoding
// into the dense table it stands for, and its .npy form (codes [V, M] as
// uint8 for K <= 256, else uint16; codebook float32 [M*K, D], float64 for
// values beyond float32's range, or [M, K, D] when read). It imports neither the learner nor anything that knows ONNX,
// so both sides share it without depending on each other.
package codes

import (
	"fmt"
	"math"
)

// Codes are a table's compositional codes: row r is rebuilt as the sum over
// m of Codebook row m*K + Data[r*M+m].
type Codes struct {
	Rows, M, K int
	Data       []uint16 // row-major [Rows, M], each value in [0, K)
}

// Codebook holds M groups of K vectors of length D, row-major [M*K, D]: the
// vectors are Data times 2^Exp.
type Codebook struct {
	M, K, D int
	Data    []float32
	// Exp is 0 but for the codebook of a float64 table whose values lie
	// beyond float32's range (see Float32Exp): Data then holds what was
	// learned on the table divided by 2^Exp, and only float64 holds the
	// codebook's values.
	Exp int
}

// Check checks codes and codebook against each other and a [rows, dim]
// table.
func Check(c Codes, b Codebook, rows, dim int64) error {
	if c.M < 1 || c.K < 2 || c.K > 65536 {
		return fmt.Errorf("codes: M=%d, K=%d: need M >= 1 and 2 <= K <= 65536", c.M, c.K)
	}
	if int64(c.Rows) != rows {
		return fmt.Errorf("codes have %d rows, the table has %d", c.Rows, rows)
	}
	if len(c.Data) != c.Rows*c.M {
		return fmt.Errorf("codes: %d values for shape [%d, %d]", len(c.Data), c.Rows, c.M)
	}
	for i, v := range c.Data {
		if int(v) >= c.K {
			return fmt.Errorf("codes: row %d group %d holds %d, outside [0, %d)", i/c.M, i%c.M, v, c.K)
		}
	}
	if b.M != c.M || b.K != c.K {
		return fmt.Errorf("codebook is %d groups of %d, codes are %d groups of %d", b.M, b.K, c.M, c.K)
	}
	if int64(b.D) != dim {
		return fmt.Errorf("codebook rows have %d values, table rows have %d", b.D, dim)
	}
	if len(b.Data) != b.M*b.K*b.D {
		return fmt.Errorf("codebook: %d values for shape [%d, %d]", len(b.Data), b.M*b.K, b.D)
	}
	for i, v := range b.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("codebook: row %d column %d is %v", i/b.D, i%b.D, v)
		}
	}
	return nil
}

// Decode rebuilds the dense [Rows, D] table that codes and codebook stand
// for, summing the groups in order m = 0..M-1 in float32. A rewritten model
// matches it up to float32 summation order, and for 16-bit tables up to one
// final rounding of each value. The table is in Data's scale: times 2^Exp.
func Decode(c Codes, b Codebook) []float32 {
	out := make([]float32, c.Rows*b.D)
	for r := 0; r < c.Rows; r++ {
		row := out[r*b.D : (r+1)*b.D]
		for m := 0; m < c.M; m++ {
			src := b.Data[(m*b.K+int(c.Data[r*c.M+m]))*b.D:]
			for j := range row {
				row[j] += src[j]
			}
		}
	}
	return out
}
