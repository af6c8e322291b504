package learner

import (
	"context"
	"math"
	"math/bits"
	"runtime"
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
// measures the error against data. weights may be nil (all 1). It runs on
// GOMAXPROCS threads; the result does not depend on their number.
func Measure(data []float32, V, D int, enc Encoded, weights []float32) Metrics {
	return measure(data, V, D, enc, weights, runtime.GOMAXPROCS(0))
}

// measureRows is the number of rows whose sums measure takes apart, then
// adds in order: the sums do not depend on the thread count, and a table
// of up to measureRows rows is summed as one. (Learn's measure of a
// [250000, 768] table at 8x256 took 1.3 s on one thread, past its time
// limit.)
const measureRows = 4096

// errSums are measure's sums over rows.
type errSums struct{ num, den, unum, uden, dist float64 }

// measure is Measure on threads threads.
func measure(data []float32, V, D int, enc Encoded, weights []float32, threads int) Metrics {
	M, K := enc.M, enc.K
	parts := make([]errSums, (V+measureRows-1)/measureRows)
	// Without cancellation the error is nil.
	_ = forChunks(context.Background(), V, measureRows, threads, func(_, lo, hi int) {
		parts[lo/measureRows] = rowErrSums(data, D, enc, weights, lo, hi)
	})
	var s errSums
	for _, p := range parts {
		s.num += p.num
		s.den += p.den
		s.unum += p.unum
		s.uden += p.uden
		s.dist += p.dist
	}
	bitsPerCode := bits.Len(uint(K - 1))
	mt := Metrics{
		RelSqErr:           ratio(s.num, s.den),
		RelSqErrUnweighted: ratio(s.unum, s.uden),
		BitsPerRow:         M * bitsPerCode,
	}
	if V > 0 {
		mt.MeanDist = s.dist / float64(V)
	}
	mt.CodeBytes = (int64(V)*int64(mt.BitsPerRow) + 7) / 8
	mt.CodebookBytes = int64(M) * int64(K) * int64(D) * 4
	if tot := mt.CodeBytes + mt.CodebookBytes; tot > 0 {
		mt.Ratio = float64(int64(V)*int64(D)*4) / float64(tot)
	}
	return mt
}

// rowErrSums returns the sums of rows [lo, hi) of data against their
// reconstructions from enc: each a sum of float64 codewords in order.
func rowErrSums(data []float32, D int, enc Encoded, weights []float32, lo, hi int) errSums {
	M, K, codes, codebook := enc.M, enc.K, enc.Codes, enc.Codebook
	var s errSums
	y := make([]float64, D)
	for i := lo; i < hi; i++ {
		clear(y)
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
		s.num += w * e
		s.den += w * n
		s.unum += e
		s.uden += n
		s.dist += math.Sqrt(e)
	}
	return s
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
