package learner

import (
	"context"
	"math"
	"math/bits"
)

// The field encoder's unary terms from integer products. Each row of the
// table and each codeword is rounded to integers of at most b bits times a
// power of two of its own (quantRow), and their dot products are summed
// exactly in int32: on AVX-512 VNNI one instruction multiplies and adds 32
// pairs, where the float32 tiles take two for 16, and the packed codebook
// takes half the bytes, which matters because the ICM between two blocks
// of products pushes it out of the cache. The sums are exact, so every
// kernel and the plain loops give the same bytes whatever their order.
//
// Measured on GloVe 50k at 8x256 (embshrink-learner-11 against 10): 8
// rows' unary terms take 11.6 us with their quantisation, where the
// float32 tiles took 19.5 us; in a whole run the products took 7.7 s of
// CPU instead of 19, and an encoding pass about 0.8x the time. The error
// is 0.2299 where float32 products gave 0.2298 (32x16: 0.1448 either way,
// 16x16 0.3159 against 0.3157): the quantisation's steps, 2^-12 of a row's
// or a codeword's largest value at 100 columns, are about as fine as the
// float16 cross terms'. Tables of a large error take 7 bits, whose
// products VNNI adds four at a time from bytes (see byteMinError).

// i16Rows is the number of rows of a block of integer products: the
// kernels' tile, the field encoder's block (see encRows).
const i16Rows = encRows

// i16Bits returns the bits b of the quantised values of rows of D values:
// their magnitudes are below 2^b, so that any partial sum of the D
// products of two of them fits in an int32 (D * 2^(2b) <= 2^31). GloVe's
// 100 columns get 12 bits; 2,048 columns 10.
func i16Bits(D int) int {
	Dp := D + D&1
	return min(15, (31-bits.Len(uint(Dp-1)))/2)
}

// quantRow sets q[d] to v[d] * 2^e rounded to the nearest integer, ties to
// even, and clamped to +-(2^b - 1), where e puts the largest |v[d]| times
// 2^e in [2^(b-1), 2^b); it returns 2^-e, exact in float32 but for
// subnormals. A row of zeros, or one that is not finite, gets zeros and 0.
// The values past len(v) in q are set to zero.
func quantRow(q []int16, v []float32, b int) float32 {
	var most float32
	for _, x := range v {
		// Not the built-in max, whose care for NaNs and signed zeros took
		// 4 ns a value; a NaN is caught below the first time through.
		if x > most {
			most = x
		} else if -x > most {
			most = -x
		} else if x != x {
			most = x
			break
		}
	}
	clear(q[len(v):])
	if most == 0 || math.IsInf(float64(most), 0) || most != most {
		clear(q[:len(v)])
		return 0
	}
	e := b - 1 - math.Ilogb(float64(most))
	// A float32 times 2^e is exact in float64 (e is within +-300), and
	// adding and taking away 1.5*2^52 rounds it to an integer, ties to
	// even, as it is below 2^16 (math.RoundToEven took 7 ns a value).
	const magic = 0x1.8p52
	s, lim := math.Ldexp(1, e), float64(int(1)<<b-1)
	for d, x := range v {
		r := (float64(x)*s + magic) - magic
		if r > lim {
			r = lim
		} else if r < -lim {
			r = -lim
		}
		q[d] = int16(r)
	}
	return float32(math.Ldexp(1, -e))
}

// i16Book is a codebook quantised for the integer products: its n
// codewords of D values, padded with zero codewords to a multiple of 16,
// quantised one by one and packed in panels of 16 codewords. Panel c holds,
// for each pair of dimensions 2j and 2j+1 in turn, the 16 codewords' two
// values each: 32 values that one 512-bit register multiplies by the
// row's pair.
type i16Book struct {
	pad, Dp, b int
	p          []int16   // [pad/16][Dp/2][16][2]
	mul        []float32 // [pad] 2 * scale * the codeword's 2^-e
	norms      []float32 // [pad] the scaled squared norms
	// Dq and p8 are the codewords as bytes for unaryI8VNNI, where b <=
	// byteBits and the CPU has VNNI: [pad/16][Dq/4][16][4], each value
	// plus 128, the dimensions padded to Dq, a multiple of 4, with 128.
	Dq int
	p8 []uint8
}

// byteBits is the most bits of values that unaryI8VNNI multiplies as
// bytes: the codewords' values plus 128 must fit in an unsigned byte.
const byteBits = 7

// byteMinError is the least relative error of the initialisation from
// which the encoder's products take byteBits bits (productBits), on
// every CPU, so that the bytes do not depend on it. Their steps, 2^-6 of
// a row's largest value, are coarse beside a small residual (GloVe 50k,
// seed 1, 128 rounds, bytes against 12 or 13 bits; the initial error in
// brackets): 100 columns 8x256 (0.28) 0.2299 against 0.2297, 32x16
// 0.1449 against 0.1448, 16x16 0.3159 either way; the first 64 (0.21) at
// 8x256 0.1683 against 0.1682; the first 32 (0.082) 0.0675 against
// 0.0674, the first 16 (0.011) 0.0083 against 0.0082. On VNNI the bytes
// take half the instructions: 8x256 on 100 columns took 0.87 to 0.91x the
// CPU time (3 pairs run side by side).
const byteMinError = 0.1

// productBits returns the bits of the encoder's products for a table of D
// columns whose initialisation left the relative error initErr: byteBits
// from byteMinError, else i16Bits(D).
func productBits(D int, initErr float64) int {
	if initErr >= byteMinError {
		return min(byteBits, i16Bits(D))
	}
	return i16Bits(D)
}

// newI16Book quantises the [n, D] codewords cb to b bits (at most
// i16Bits(D)) for rows quantised to the same bits; the unary terms come
// out times scale (a power of two), as the scaled norms and cross terms
// do.
func newI16Book(cb []float32, n, D int, norms []float32, scale float32, b int) *i16Book {
	Dp := D + D&1
	bk := &i16Book{pad: (n + 15) &^ 15, Dp: Dp, b: b}
	bk.p = make([]int16, bk.pad*Dp)
	bk.mul = make([]float32, bk.pad)
	bk.norms = make([]float32, bk.pad)
	copy(bk.norms, norms[:n])
	// The sums of D products of at most 127 * 255 stay in an int32.
	if bk.b <= byteBits && hasVNNI && (D+3)*127*255 < 1<<31 {
		bk.Dq = (D + 3) &^ 3
		bk.p8 = make([]uint8, bk.pad*bk.Dq)
		for j := range bk.p8 {
			bk.p8[j] = 128
		}
	}
	q := make([]int16, Dp)
	for k := 0; k < n; k++ {
		bk.mul[k] = 2 * scale * quantRow(q, cb[k*D:(k+1)*D], bk.b)
		panel := bk.p[k/16*16*Dp:]
		for j := 0; j < Dp/2; j++ {
			panel[j*32+k%16*2] = q[2*j]
			panel[j*32+k%16*2+1] = q[2*j+1]
		}
		if bk.p8 != nil {
			panel := bk.p8[k/16*16*bk.Dq:]
			for d, v := range q[:D] {
				panel[d/4*64+k%16*4+d%4] = uint8(v + 128)
			}
		}
	}
	return bk
}

// maxQuantTable is the most bytes of the quantised table that the encoder
// keeps between rounds (quantTable); larger tables are quantised a block
// at a time, each round. Quantising GloVe 50k's blocks each round took 2.0
// s of CPU of a 128-round 8x256 run (the table is 10 MB quantised). A
// variable, so that the tests can run both ways.
var maxQuantTable = 1 << 28

// quantTable returns the table's rows quantised for bk ([V, Dp], the rows
// padded with zeros to a multiple of i16Rows) and their scales, made on
// every thread and kept in a; nil when they would take more than
// maxQuantTable bytes.
func (a *aq) quantTable(ctx context.Context, bk *i16Book) ([]int16, []float32, error) {
	V, D, Dp := a.V, a.D, bk.Dp
	rows := (V + i16Rows - 1) / i16Rows * i16Rows
	if rows*Dp*2 > maxQuantTable {
		return nil, nil, nil
	}
	if len(a.xq) == rows*Dp && a.xqBits == bk.b {
		return a.xq, a.xmul, nil
	}
	xq, mul := make([]int16, rows*Dp), make([]float32, rows)
	err := forChunks(ctx, V, chunkRows, a.threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			mul[i] = quantRow(xq[i*Dp:(i+1)*Dp], a.x[i*D:(i+1)*D], bk.b)
		}
	})
	if err != nil {
		return nil, nil, err
	}
	a.xq, a.xmul, a.xqBits = xq, mul, bk.b
	a.x8, a.xcorr = nil, nil
	return xq, mul, nil
}

// byteTable returns the quantised table xq (from quantTable, not nil) as
// bytes for bk.unaryI8, [rows, Dq], and each row's correction (see
// byteRows), made once and kept in a beside xq: each round's conversion of
// every block was 1% of an 8x256 run. Nil when bk does not take bytes.
func (a *aq) byteTable(ctx context.Context, bk *i16Book, xq []int16) ([]int8, []int32, error) {
	if !bk.bytes() {
		return nil, nil, nil
	}
	rows := len(xq) / bk.Dp
	if len(a.x8) == rows*bk.Dq {
		return a.x8, a.xcorr, nil
	}
	x8, corr := make([]int8, rows*bk.Dq), make([]int32, rows)
	err := forChunks(ctx, rows, chunkRows, a.threads, func(_, lo, hi int) {
		for i := lo; i < hi; i += i16Rows {
			sc := byteRows{x8: x8[i*bk.Dq : (i+i16Rows)*bk.Dq]}
			sc.set(xq[i*bk.Dp:(i+i16Rows)*bk.Dp], bk.Dp, bk.Dq)
			copy(corr[i:i+i16Rows], sc.corr[:])
		}
	})
	if err != nil {
		return nil, nil, err
	}
	a.x8, a.xcorr = x8, corr
	return x8, corr, nil
}

// quantBlock quantises the rows of x, [rows, D] with rows <= i16Rows, into
// xq, [i16Rows, Dp], and their scales into mr; the rows past the block are
// zeros with scale 0.
func (bk *i16Book) quantBlock(xq []int16, mr []float32, x []float32, D int) {
	rows := len(x) / D
	for r := 0; r < i16Rows; r++ {
		if r < rows {
			mr[r] = quantRow(xq[r*bk.Dp:(r+1)*bk.Dp], x[r*D:(r+1)*D], bk.b)
		} else {
			clear(xq[r*bk.Dp : (r+1)*bk.Dp])
			mr[r] = 0
		}
	}
}

// unaryI16 sets u[r*bk.pad+k], for the i16Rows rows r of the quantised
// block xq (scales mr), to the unary term of codeword k: norms[k] less
// float32(<xq_r, cq_k>) * mul[k] * mr[r], the dot product exact in int32
// and rounded once, the two scales exact.
func (bk *i16Book) unaryI16(u []float32, xq []int16, mr []float32, sc *byteRows) {
	if bk.bytes() {
		sc.set(xq, bk.Dp, bk.Dq)
		bk.unaryI8(u, sc, mr)
		return
	}
	for c := 0; c < bk.pad; c += 16 {
		p := bk.p[c*bk.Dp : (c+16)*bk.Dp]
		out := u[c:]
		switch {
		case useAVX2 && useAVX512 && hasVNNI:
			unaryI16VNNI(out, bk.pad, xq, bk.Dp, p, bk.norms[c:c+16], bk.mul[c:c+16], mr)
		case useAVX2:
			unaryI16AVX2(out, bk.pad, xq, bk.Dp, p, bk.norms[c:c+16], bk.mul[c:c+16], mr[:4])
			unaryI16AVX2(out[4*bk.pad:], bk.pad, xq[4*bk.Dp:], bk.Dp, p, bk.norms[c:c+16], bk.mul[c:c+16], mr[4:])
		default:
			bk.unaryPanel(out, xq, p, c, mr)
		}
	}
}

// bytes says whether the products take bytes, by unaryI8.
func (bk *i16Book) bytes() bool { return useAVX2 && useAVX512 && bk.p8 != nil }

// unaryI8 is unaryI16 for the block as bytes, when bk.bytes().
func (bk *i16Book) unaryI8(u []float32, sc *byteRows, mr []float32) {
	if len(u) < (i16Rows-1)*bk.pad+bk.pad || len(bk.p8) < bk.pad*bk.Dq || len(bk.norms) < bk.pad ||
		len(bk.mul) < bk.pad || len(mr) < i16Rows || len(sc.x8) < i16Rows*bk.Dq {
		panic("learner: unaryI8: a block or the codebook is short")
	}
	unaryI8VNNI(u, bk.pad, sc.x8, bk.Dq, bk.p8, bk.norms, bk.mul, mr, sc.corr[:], bk.pad/16)
}

// unaryPanel is unaryI16's panel of 16 codewords from c in Go.
func (bk *i16Book) unaryPanel(out []float32, xq, p []int16, c int, mr []float32) {
	for r := 0; r < i16Rows; r++ {
		xr := xq[r*bk.Dp : (r+1)*bk.Dp]
		for k := 0; k < 16; k++ {
			var s int32
			for j := 0; j < bk.Dp/2; j++ {
				s += int32(xr[2*j])*int32(p[j*32+2*k]) + int32(xr[2*j+1])*int32(p[j*32+2*k+1])
			}
			t := float32(float32(s) * bk.mul[c+k] * mr[r])
			out[r*bk.pad+k] = bk.norms[c+k] - t
		}
	}
}

// byteRows is a block of quantised rows as bytes for unaryI8VNNI, [i16Rows,
// Dq], and corr[r], 128 times the sum of row r's values.
type byteRows struct {
	x8   []int8
	corr [i16Rows]int32
}

// set fills the block from xq, [i16Rows, Dp] values of at most byteBits
// bits.
func (sc *byteRows) set(xq []int16, Dp, Dq int) {
	if len(sc.x8) != i16Rows*Dq {
		sc.x8 = make([]int8, i16Rows*Dq)
	}
	for r := range sc.corr {
		row, s := sc.x8[r*Dq:(r+1)*Dq], int32(0)
		for d, v := range xq[r*Dp : (r+1)*Dp] {
			row[d] = int8(v)
			s += int32(v)
		}
		clear(row[Dp:])
		sc.corr[r] = 128 * s
	}
}
