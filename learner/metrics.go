package learner

import (
	"math"
	"math/bits"
)

// Metrics describes how well codes and codebook reconstruct a table.
type Metrics struct {
	// RelSqErr is sum_i w_i ||y_i - x_i||^2 / sum_i w_i ||x_i||^2 (equal to
	// RelSqErrUnweighted when no weights are given).
	RelSqErr float64
	// RelSqErrUnweighted is the same ratio with all weights 1.
	RelSqErrUnweighted float64
	// MeanDist is the mean Euclidean distance ||y_i - x_i|| over all rows.
	MeanDist float64
	// BitsPerRow is M*log2(K), rounded up to whole bits per code.
	BitsPerRow int
	// Ratio is the compression ratio against the float32 table:
	// V*D*4 / (packed code bytes + codebook bytes).
	Ratio float64
	// CodeBytes is the size of the bit-packed codes, CodebookBytes the size
	// of the float32 codebook.
	CodeBytes, CodebookBytes int64
}

// Encoded is a table's codes and codebook with their shape: Codes is
// [V, M] (V = len(Codes)/M), Codebook [M*K, D].
type Encoded struct {
	M, K     int
	Codes    []uint16
	Codebook []float32
}

// Measure reconstructs every row of the [V, D] table data from enc and
// measures the error against data. weights may be nil (all 1).
func Measure(data []float32, V, D int, enc Encoded, weights []float32) Metrics {
	M, K, codes, codebook := enc.M, enc.K, enc.Codes, enc.Codebook
	var num, den, unum, uden, dist float64
	y := make([]float64, D)
	for i := 0; i < V; i++ {
		for j := range y {
			y[j] = 0
		}
		for m := 0; m < M; m++ {
			c := codebook[(m*K+int(codes[i*M+m]))*D:][:D]
			for j, v := range c {
				y[j] += float64(v)
			}
		}
		x := data[i*D : (i+1)*D]
		var e, n float64
		for j, v := range x {
			d := y[j] - float64(v)
			e += d * d
			n += float64(v) * float64(v)
		}
		w := 1.0
		if weights != nil {
			w = float64(weights[i])
		}
		num += w * e
		den += w * n
		unum += e
		uden += n
		dist += math.Sqrt(e)
	}
	bitsPerCode := bits.Len(uint(K - 1))
	mt := Metrics{
		RelSqErr:           ratio(num, den),
		RelSqErrUnweighted: ratio(unum, uden),
		BitsPerRow:         M * bitsPerCode,
	}
	if V > 0 {
		mt.MeanDist = dist / float64(V)
	}
	mt.CodeBytes = (int64(V)*int64(mt.BitsPerRow) + 7) / 8
	mt.CodebookBytes = int64(M) * int64(K) * int64(D) * 4
	if tot := mt.CodeBytes + mt.CodebookBytes; tot > 0 {
		mt.Ratio = float64(int64(V)*int64(D)*4) / float64(tot)
	}
	return mt
}

func ratio(a, b float64) float64 {
	if b == 0 {
		if a == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return a / b
}
