package learner

import "math"

// q8MinMK is the least M*K whose cross terms are rounded to int8 values
// (roundQ8): from there P takes over 16 MB in float16, and an update is
// bound by reading it (see crossTerms for the figures). At 10x256 (12.5
// MB) int8 gave 0.2037 against 0.2036 in 24 rounds, in 22.5 and 20.2 s of
// CPU against 19.6 and 23.1: no gain.
const q8MinMK = 2897

// crossTab is the encoder's cross terms P, [M*K, M*K]: float16 values (h),
// or the int8 values q with a power-of-two scale s a row and codebook block
// (row r's block m is q[r*M*K+m*K:][:K] times s[r*M+m]). Both hold the same
// numbers (roundQ8), so that every kernel, and so every CPU, finds the
// same codes; q is used where the AVX2 or AVX-512 kernels for it run.
type crossTab struct {
	h    []uint16
	q    []int8
	s    []float32
	M, K int
}

// storesQ8 reports whether cross terms of M codebooks of K codes rounded
// to int8 values are kept as int8 here: where the kernels for them run,
// AVX2 for K a multiple of 8 (AVX-512 where it and K allow).
func storesQ8(K int) bool { return useAVX2 && K%8 == 0 }

// wideQ8 reports whether the AVX-512 kernels take blocks of K.
func wideQ8(K int) bool { return useAVX512 && K%16 == 0 }

// roundQ8 rounds each block of K values of row to q*2^e, q an integer of
// magnitude at most 127 (to even), e the least power (at least -24) for
// which the block's largest magnitude rounds within that. With q8 nil the
// row takes the values, still float32; else q and 2^e are written to q8
// and s (K a multiple of 8; by AVX-512 where wideQ8, else AVX2, where
// storesQ8) and the row is left as it is.
// Such a value is exact in float32 and float16 alike (|q| < 2^7, a
// multiple of 2^-24, below 2^16), and a zero is +0. The row must be finite.
func roundQ8(row []float32, K int, q8 []int8, s []float32) {
	absMax := absMaxGo
	var quant func([]int8, []float32, float32) // with q8
	switch {
	case q8 != nil && wideQ8(K):
		absMax, quant = absMax512, quantQ8512
	case q8 != nil:
		absMax, quant = absMaxAVX2, quantQ8AVX2
	}
	for m := 0; m*K < len(row); m++ {
		blk := row[m*K : (m+1)*K]
		most := absMax(blk)
		e := -24
		if most > 0 {
			// The least e with most/2^e < 127.5, which rounds to 127.
			e = max(e, math.Ilogb(float64(most)/127.5)+1)
		}
		// v/2^e is exact in float32, or below 2^-126 and so rounds to 0.
		inv, sc := float32(math.Ldexp(1, -e)), float32(math.Ldexp(1, e))
		if q8 != nil {
			quant(q8[m*K:(m+1)*K], blk, inv)
			s[m] = sc
			continue
		}
		for j, v := range blk {
			blk[j] = float32(int32(math.RoundToEven(float64(v*inv)))) * sc
		}
	}
}

// absMaxGo returns the largest magnitude in v (no NaN), 0 for none.
func absMaxGo(v []float32) float32 {
	var most float32
	for _, x := range v {
		most = max(most, math.Float32frombits(math.Float32bits(x)&^(1<<31)))
	}
	return most
}

// finite reports whether every value of v is finite.
func finite(v []float32) bool {
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return false
		}
	}
	return true
}

// field sets f[m*K+k] = u[m*K+k] + sum_{m' != m} P[m*K+k, m'*K+b[m']],
// with off and soff as scratch for the rows of P and of their scales.
func (c *crossTab) field(f, u []float32, b []uint16, off, soff []int) {
	MK, K := c.M*c.K, c.K
	for m, code := range b {
		r := m*K + int(code)
		off[m] = r * MK
		soff[m] = r * c.M
	}
	if c.q == nil {
		fieldSums(f, u, c.h, off)
		return
	}
	fieldQ8(f, u, c.q, c.s, off, soff[:len(off)], K)
}

// restart sets f to base plus the rows of P at rows[2i] less those at
// rows[2i+1] (see restartField), with srows as scratch.
func (c *crossTab) restart(f, base []float32, rows, srows []int) {
	if c.q == nil {
		restartField(f, base, c.h, rows)
		return
	}
	MK := c.M * c.K
	srows = srows[:len(rows)]
	for i, o := range rows {
		srows[i] = o / MK * c.M
	}
	restartQ8(f, base, c.q, c.s, rows, srows, c.K)
}

// icm runs ICM on codes b with field f for at most visits visits (see
// icmRun).
func (c *crossTab) icm(f []float32, b []uint16, visits int) {
	if c.q == nil {
		icmRun(f, c.h, b, c.K, visits)
		return
	}
	icmRunQ8(f, c.q, c.s, b, c.K, visits)
}

// fieldQ8 is fieldSums for int8 rows of P at off with scales from soff
// (row*M), blocks of K a multiple of 8.
func fieldQ8(f, u []float32, q []int8, s []float32, off, soff []int, K int) {
	n := len(f)
	u = u[:n]
	checkQ8Rows(q, s, off, soff, n, len(off))
	if wideQ8(K) {
		fieldQ8512(f, u, q, s, off, soff, K)
	} else {
		fieldQ8AVX2(f, u, q, s, off, soff, K)
	}
}

// restartQ8 is restartField for int8 rows of P at rows with scales from
// srows (row*M), blocks of K a multiple of 8.
func restartQ8(f, base []float32, q []int8, s []float32, rows, srows []int, K int) {
	n := len(f)
	base = base[:n]
	checkQ8Rows(q, s, rows, srows, n, n/K)
	if wideQ8(K) {
		restartQ8512(f, base, q, s, rows, srows, K)
	} else {
		restartQ8AVX2(f, base, q, s, rows, srows, K)
	}
}

// icmRunQ8 is icmRun for int8 cross terms: the AVX-512 ICM that keeps
// least fields where it runs (see icmRun), else the AVX2 one.
func icmRunQ8(f []float32, q []int8, s []float32, b []uint16, K, visits int) {
	M := len(b)
	MK := M * K
	if len(f) != MK || len(q) < MK*MK || len(s) < MK*M {
		panic("learner: icmRunQ8: field, codes and cross terms disagree in size")
	}
	if keepsMins(M, K) {
		var mins [maxMinsM]float32
		icmRunMinsQ8512(f, q, s, b, mins[:M], K, visits)
		return
	}
	icmRunQ8AVX2(f, q, s, b, K, visits)
}

// checkQ8Rows panics unless every row of n values at off, and its M scales
// at soff, lie inside q and s.
func checkQ8Rows(q []int8, s []float32, off, soff []int, n, M int) {
	if len(soff) != len(off) || n%8 != 0 {
		panic("learner: int8 cross terms: rows, scales and field disagree")
	}
	for i, o := range off {
		if o < 0 || o+n > len(q) || soff[i] < 0 || soff[i]+M > len(s) {
			panic("learner: int8 cross terms: a row is outside the cross terms")
		}
	}
}
