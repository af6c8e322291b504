package learner

import "github.com/embshrink/embshrink/internal/half"

// The inner loops of the learner (ICM runs and field sums, products with
// the codebook, k-means and refit sums), each with an AVX2 version on amd64
// (F16C for the ICM's float16 cross terms; the products' tiles, the ICM's
// kernels and the codeword sums also in AVX-512, and the encoder's integer
// products in AVX-512 VNNI, where the CPU has them) and a plain Go twin.
// The versions do the same floating-point operations in the same order
// (products rounded before they are added, so no FMA is fused), so results
// do not depend on which one runs. On GloVe 10k 32x16 the field updates and
// argmin scans were 51% of the CPU time with gonum's Saxpy and plain loops;
// at 8x256 (GloVe 50k, embshrink-learner-14, 50 s of CPU) the ICM with its
// field and restarts takes about 49% (bound by reading rows of the cross
// terms), the integer products 12%, the refit's sums 10% and the
// initialisation 12%.

// useHalves reports whether the ICM's F16C kernels run: they widen the
// cross terms' float16 values by F16C, which every AVX2 CPU known has
// (tests turn useAVX2 off to run the plain loops instead).
func useHalves() bool { return useAVX2 && hasF16C }

// addDiff sets f[j] = f[j] + (a[j] - b[j]) for every j < len(f), a and b
// float16 values widened exactly.
func addDiff(f []float32, a, b []uint16) {
	n := len(f)
	a, b = a[:n], b[:n]
	done := 0
	switch {
	case useAVX2 && useAVX512 && n >= 16:
		done = n &^ 15
		addDiff512(f[:done], a[:done], b[:done])
	case useHalves() && n >= 8:
		done = n &^ 7
		addDiffF16C(f[:done], a[:done], b[:done])
	}
	for j := done; j < n; j++ {
		f[j] += half.ToFloat32(a[j]) - half.ToFloat32(b[j])
	}
}

// restartField sets f[j] = base[j] + (a_0[j] - b_0[j]) + (a_1[j] -
// b_1[j]) + ..., in that order, for every j < len(f), the rows a_i and b_i
// of P starting at rows[2i] and rows[2i+1] (float16, widened exactly): a
// restart's field, the best codes' field with its perturbations' updates,
// in one pass where a copy and an addDiff each took three (the same sums
// in the same order).
func restartField(f, base []float32, P []uint16, rows []int) {
	n := len(f)
	base = base[:n]
	if len(rows)%2 != 0 {
		panic("learner: restartField: rows do not come in pairs")
	}
	for _, o := range rows {
		if o < 0 || o+n > len(P) {
			panic("learner: restartField: a row offset is outside the cross terms")
		}
	}
	done := 0
	switch {
	case useAVX2 && useAVX512 && n >= 16:
		done = n &^ 15
		restart512(f[:done], base, P, rows)
	case useHalves() && n >= 8:
		done = n &^ 7
		restartF16C(f[:done], base, P, rows)
	}
	for j := done; j < n; j++ {
		s := base[j]
		for i := 0; i < len(rows); i += 2 {
			s += half.ToFloat32(P[rows[i]+j]) - half.ToFloat32(P[rows[i+1]+j])
		}
		f[j] = s
	}
}

// codewordSum sets s to the sum of the codewords of code, the rows
// m*K+code[m] of the [M*K, len(s)] codebook cb, added in order of m to
// zeros (a row's reconstruction).
func codewordSum(s, cb []float32, code []uint16, K int) {
	D := len(s)
	if len(cb) < len(code)*K*D {
		panic("learner: codewordSum: the codebook is smaller than its codes")
	}
	for _, c := range code {
		if int(c) >= K {
			panic("learner: codewordSum: a code is out of range")
		}
	}
	done := 0
	switch {
	case useAVX2 && useAVX512:
		codewordSum512(s, cb, code, K, D, uint16(1)<<(D%16)-1)
		return
	case useAVX2:
		done = D &^ 7
		codewordSumAVX2(s[:done], cb, code, K, D)
	}
	for j := done; j < D; j++ {
		var v float32
		for m, c := range code {
			v += cb[(m*K+int(c))*D+j]
		}
		s[j] = v
	}
}

// toHalves sets dst[j] to src[j] rounded to the nearest float16, ties to
// even (internal/half's rounding, which F16C's VCVTPS2PH does too).
func toHalves(dst []uint16, src []float32) {
	n := len(dst)
	src = src[:n]
	done := 0
	if useHalves() {
		done = n &^ 7
		toHalvesF16C(dst[:done], src)
	}
	for j := done; j < n; j++ {
		dst[j] = half.FromFloat32(src[j])
	}
}

// minIndex returns the first index of the smallest value of v (len(v) > 0,
// no NaN).
func minIndex(v []float32) int {
	if useAVX2 && len(v) >= 8 {
		n := len(v) &^ 7
		i := minIndexAVX2(v[:n])
		for j := n; j < len(v); j++ {
			if v[j] < v[i] {
				i = j
			}
		}
		return i
	}
	return minIndexGeneric(v)
}

func minIndexGeneric(v []float32) int {
	bi, bv := 0, v[0]
	for i, x := range v {
		if x < bv {
			bi, bv = i, x
		}
	}
	return bi
}

// dots sets out[k] to the dot product of x with row k of c, a [len(out),
// len(x)] matrix: eight lane sums over the blocks of eight, added lanes l
// and l+4, then 0+2 and 1+3, then the two, and the last len(x)%8 products
// added one by one. (gonum's Sgemm did this at about 3 GFLOP/s here.)
func dots(out, x, c []float32) {
	D := len(x)
	c = c[:len(out)*D]
	if useAVX2 && D >= 8 {
		dotsAVX2(out, x, c)
		return
	}
	dotsGeneric(out, x, c)
}

func dotsGeneric(out, x, c []float32) {
	D := len(x)
	D8 := D &^ 7
	for k := range out {
		ck := c[k*D : (k+1)*D]
		var l [8]float32
		for j := 0; j < D8; j += 8 {
			for t := range l {
				// The conversion rounds the product, so no FMA is fused.
				l[t] += float32(x[j+t] * ck[j+t])
			}
		}
		s := ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]))
		for j := D8; j < D; j++ {
			s += float32(x[j] * ck[j])
		}
		out[k] = s
	}
}

// axpy sets f[j] = f[j] + w*a[j] (the product rounded to float32 first) for
// every j < len(f).
func axpy(f, a []float32, w float32) {
	n := len(f)
	a = a[:n]
	done := 0
	if useAVX2 && n >= 8 {
		done = n &^ 7
		axpyAVX2(f[:done], a[:done], w)
	}
	for j := done; j < n; j++ {
		f[j] += float32(w * a[j])
	}
}

// minsK is the least K for which the AVX-512 ICM keeps each codebook's least
// field (icmRunMins512): a codebook's K fields then take a few registers'
// reduction at each update. At 32x16 (GloVe 50k, 32 rounds) it took 13.5 s
// of CPU where the scan took 11.6 and 12.3; at 12x64 12.3 and 12.1 against
// 13.1 and 12.2; at 8x256 (48 rounds, 4 pairs run side by side) 0.95x.
const minsK = 64

// maxMinsM is the most codebooks for which that kernel runs (their least
// fields are kept on the caller's stack).
const maxMinsM = 64

// keepsMins reports whether the AVX-512 ICM that keeps least fields runs
// for M codebooks of K codes, over float16 or int8 cross terms.
func keepsMins(M, K int) bool {
	return useAVX2 && useAVX512 && K%16 == 0 && K >= minsK && M <= maxMinsM
}

// icmRun runs ICM on codes b, of len(b) codebooks of K codes, with field
// f: it visits the codebooks in turn, moving b[m] to the first code of
// least field when that is strictly less than the current code's, and
// then adding to f the new code's row of P less the old one's. P is [M*K,
// M*K] in float16 with M*K = len(f), and its diagonal K x K blocks are
// zero, so that a codebook's own field is left as it is. It stops once M
// visits in a row have changed nothing (counting the last change's own),
// or after visits visits: where sweeps of M visits stop, with the same
// codes and field, but without the sweeps' visits after the last change
// (GloVe 50k at 8x256 makes about 7 sweeps a row a round).
// (One call a run instead of one a codebook: the calls and the slicing
// around them were a quarter of the sweeps' time. The F16C kernel tests
// first whether any code's field is below the current one's, and only then
// looks for the least: most codebooks keep their code, and the test is a
// shorter chain than the argmin's lane reduction; an encoding pass of GloVe
// 10k 32x16 took 0.87x the time, medians of 6, go test -bench EncodeRound.
// For K >= minsK the AVX-512 kernel keeps each codebook's least field,
// taken as each update writes the field, so that such a visit reads two
// values: the kernel took 0.91x its time in BenchmarkEncodeRound256's
// profiles, 2 alternated pairs at 8x256. Kept as 16 lanes a codebook
// instead, reduced across lanes only when a visit finds one below the
// current code's field rather than at each block of each update (7
// reductions a change at 8x256, a sixth of the kernel's samples), they
// made an encoding pass 1.06x the time, medians of 5 alternated pairs: the
// reductions overlap the updates' loads, and the visits, four for each
// change, grew.)
func icmRun(f []float32, P, b []uint16, K, visits int) {
	MK := len(b) * K
	if len(f) != MK || len(P) < MK*MK {
		panic("learner: icmRun: field, codes and cross terms disagree in size")
	}
	switch {
	case keepsMins(len(b), K):
		var mins [maxMinsM]float32
		icmRunMins512(f, P, b, mins[:len(b)], K, visits)
	case useAVX2 && useAVX512 && K%16 == 0:
		icmRun512(f, P, b, K, visits)
	case useHalves() && K%8 == 0:
		icmRunF16C(f, P, b, K, visits)
	default:
		icmRunGeneric(f, P, b, K, visits)
	}
}

// icmRunGeneric is icmRun in Go, from minIndex and addDiff (which run
// their own kernels where they can, with the same results).
func icmRunGeneric(f []float32, P, b []uint16, K, visits int) {
	MK, M := len(f), len(b)
	for m, quiet := 0, 0; quiet < M && visits > 0; m = (m + 1) % M {
		visits--
		quiet++
		lo, c := m*K, int(b[m])
		fm := f[lo : lo+K]
		k := minIndex(fm)
		if k == c || !(fm[k] < fm[c]) {
			continue
		}
		addDiff(f, P[(lo+k)*MK:(lo+k+1)*MK], P[(lo+c)*MK:(lo+c+1)*MK])
		b[m] = uint16(k)
		quiet = 1
	}
}

// unary sets u[j] = norms[j] - 2*u[j] for every j < len(u): the ICM's
// unary terms ||c_j||^2 - 2<x, c_j> from the row's products u (a plain
// loop over them was 7% of a GloVe 50k round at 8x256).
func unary(u, norms []float32) {
	n := len(u)
	norms = norms[:n]
	done := 0
	if useAVX2 {
		done = n &^ 7
		unaryAVX2(u[:done], norms)
	}
	for j := done; j < n; j++ {
		u[j] = norms[j] - 2*u[j]
	}
}

// accum64 sets b[j] = b[j] + w*x[j] in float64 (the product rounded first)
// for every j < len(b): the sums of the codebook refit.
func accum64(b []float64, x []float32, w float64) {
	n := len(b)
	x = x[:n]
	done := 0
	if useAVX2 && n >= 4 {
		done = n &^ 3
		accum64AVX2(b[:done], x[:done], w)
	}
	for j := done; j < n; j++ {
		b[j] += float64(w * float64(x[j]))
	}
}

// fieldSums sets f[j] = u[j] + P[off[0]+j] + P[off[1]+j] + ..., the terms
// (float16, widened exactly) added in order: the ICM field of the codes
// whose rows of P start at off (P's diagonal blocks are zero, so that a
// codebook's own code adds nothing to its field). The F16C version keeps 64
// sums in registers across all the rows instead of adding one row at a time
// to f; the AVX-512 one keeps 128.
func fieldSums(f, u []float32, P []uint16, off []int) {
	n := len(f)
	u = u[:n]
	for _, o := range off {
		if o < 0 || o+n > len(P) {
			panic("learner: fieldSums: a row offset is outside the cross terms")
		}
	}
	done := 0
	switch {
	case useAVX2 && useAVX512:
		done = n &^ 15
		field512(f[:done], u, P, off)
	case useHalves():
		done = n &^ 7
		fieldF16C(f[:done], u, P, off)
	}
	for j := done; j < n; j++ {
		s := u[j]
		for _, o := range off {
			s += half.ToFloat32(P[o+j])
		}
		f[j] = s
	}
}

// panelWidth returns the width of the panel of a packed [D, n] matrix
// (see packPanels) that starts at column c0: 16, then one of 8, then the
// rest.
func panelWidth(n, c0 int) int {
	switch r := n - c0; {
	case r >= 16:
		return 16
	case r >= 8:
		return 8
	default:
		return r
	}
}

// packPanels returns the transpose of the [rows, cols] matrix m cut into
// panels of columns (see panelWidth), each stored as its own [cols, w]
// matrix, the panel that starts at column c0 at offset c0*cols: the tile
// kernel reads a panel in order instead of at a stride of rows.
func packPanels(m []float32, rows, cols int) []float32 {
	t := make([]float32, rows*cols)
	for c0 := 0; c0 < rows; {
		w := panelWidth(rows, c0)
		p := t[c0*cols : (c0+w)*cols]
		for k := 0; k < w; k++ {
			for d, v := range m[(c0+k)*cols : (c0+k+1)*cols] {
				p[d*w+k] = v
			}
		}
		c0 += w
	}
	return t
}

// dotsT sets out[r*n+k], for the len(x)/D rows r of x, to the dot product
// of row r with column k of the [D, n] matrix packed as panels in ct
// (packPanels of the [n, D] codewords): the products rounded and added in
// the order of d from zero. On amd64 tiles of 4 rows and a panel of 16 (or
// 8) columns are summed in registers, each vector of the panel loaded once
// for the four rows, and a panel serves all the rows before the next; the
// rest runs as plain loops.
func dotsT(out, x []float32, D int, ct []float32, n int) {
	R := len(x) / D
	if len(out) < R*n || len(ct) < D*n {
		panic("learner: dotsT: rows, outputs and codewords disagree in size")
	}
	r0 := 0
	if useAVX2 {
		r0 = R &^ 3
	}
	for c0 := 0; c0 < n; {
		w := panelWidth(n, c0)
		p := ct[c0*D : (c0+w)*D]
		r := 0
		if w == 16 && useAVX2 && useAVX512 {
			for ; r+8 <= R; r += 8 {
				dotsPanel512(out[r*n+c0:], n, x[r*D:(r+8)*D], D, p)
			}
		}
		if w >= 8 {
			for ; r < r0; r += 4 {
				dotsPanelAVX2(out[r*n+c0:], n, x[r*D:(r+4)*D], D, p, w)
			}
		}
		for ; r < R; r++ {
			xr, o := x[r*D:(r+1)*D], out[r*n+c0:r*n+c0+w]
			for k := range o {
				var s float32
				for d, v := range xr {
					s += float32(v * p[d*w+k])
				}
				o[k] = s
			}
		}
		c0 += w
	}
}

// products sets out[r*n+k] to the dot product of row r of x with row k of
// c, the [n, D] codewords (ct their packPanels): by dotsT when n is a
// multiple of 8, its tiles' width, else a row at a time by dots (GloVe 50k,
// k-means at K=4: 2.0 s where dotsT's plain loops took 4.9 s). The choice
// depends on n alone, so the bytes are the same on every machine.
func products(out, x []float32, D int, c, ct []float32, n int) {
	if n%8 == 0 {
		dotsT(out, x, D, ct, n)
		return
	}
	for r := 0; r < len(x)/D; r++ {
		dots(out[r*n:(r+1)*n], x[r*D:(r+1)*D], c)
	}
}

// dotsCols sets out[j] to the dot product of x with column j of cols, a
// [len(x), n] matrix (so that sixteen columns' sums go in the lanes of one
// register, without the horizontal sums of dots): each product rounded to
// float32, then added in order of the dimension. len(out) <= n.
func dotsCols(out, x, cols []float32, n int) {
	if len(out) > n || len(cols) < len(x)*n {
		panic("learner: dotsCols: the columns are fewer than asked")
	}
	done := 0
	switch {
	case useAVX2 && useAVX512:
		done = len(out) &^ 15
		dotsCols512(out[:done], x, cols, n)
	case useAVX2:
		// The Go loop alone made the seeding of 16x256 on GloVe 50k take
		// 138 s of CPU (embshrink-learner-15, on AVX2 without AVX-512);
		// this kernel 4.5 s.
		done = len(out) &^ 7
		dotsColsAVX2(out[:done], x, cols, n)
	}
	dotsColsGeneric(out[done:], x, cols[done:], n)
}

func dotsColsGeneric(out, x, cols []float32, n int) {
	for j := range out {
		var s float32
		for d, v := range x {
			s += float32(v * cols[d*n+j])
		}
		out[j] = s
	}
}

// scatterAdd adds v into row m*K+code[m] of b, rows of len(v) values, for
// each codebook m: a row's share of the codebook refit's sums.
func scatterAdd(b, v []float32, code []uint16, K int) {
	D := len(v)
	if len(b) < len(code)*K*D {
		panic("learner: scatterAdd: the sums are fewer than the codes")
	}
	for _, c := range code {
		if int(c) >= K {
			panic("learner: scatterAdd: a code is out of range")
		}
	}
	if useAVX2 && useAVX512 && D > 0 {
		scatterAdd512(b, v, code, K, uint16(1)<<(D%16)-1)
		return
	}
	for m, c := range code {
		r := (m*K + int(c)) * D
		// axpy's product by 1 is exact: the same sums, by AVX2 where it runs.
		axpy(b[r:r+D], v, 1)
	}
}
