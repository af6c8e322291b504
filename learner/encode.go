package learner

import (
	"context"
	"math"
	"slices"
)

// encoder holds per-worker scratch space for ICM encoding.
type encoder struct {
	u, f, bestF []float32
	y           []float32 // a row's reconstruction
	cur, best   []uint16
	off, soff   []int     // the rows of P of a field, and of their scales
	rows, srows []int     // a restart's pairs of rows of P, and of scales
	xq          []int16   // a block of rows quantised (see i16Book)
	mr          []float32 // their scales
	x8          byteRows  // the block as bytes (see unaryI8VNNI)
	b8          byteRows  // a block of the table's bytes (byteTable)
}

// encode re-encodes every row against the current codebook, starting from
// its current codes, with ICM sweeps and perturbation restarts; a row's codes
// only change when its error decreases. It returns the weighted relative
// squared error.
func (a *aq) encode(ctx context.Context, round int, o encodeOpts) (float64, error) {
	if a.MK > maxFieldMK {
		return a.encodeRes(ctx, round, o)
	}
	V, D, M, MK := a.V, a.D, a.M, a.MK
	inv := halfScale(a.cb, D)
	cs := slices.Clone(a.cb)
	for j := range cs {
		cs[j] *= inv
	}
	P, norms, err := a.crossTerms(ctx, cs)
	if err != nil {
		return 0, err
	}
	bk := newI16Book(a.cb, MK, D, norms, inv, a.prodBits)
	xq, xmul, err := a.quantTable(ctx, bk)
	if err != nil {
		return 0, err
	}
	var x8 []int8
	var xcorr []int32
	if xq != nil {
		if x8, xcorr, err = a.byteTable(ctx, bk, xq); err != nil {
			return 0, err
		}
	}
	errSum := make([]float64, (V+chunkRows-1)/chunkRows)
	encs := make([]*encoder, a.threads)
	for t := range encs {
		encs[t] = &encoder{u: make([]float32, encRows*bk.pad), f: make([]float32, MK), bestF: make([]float32, MK),
			y: make([]float32, D), cur: make([]uint16, M), best: make([]uint16, M), off: make([]int, M), soff: make([]int, M),
			rows: make([]int, 0, 2*o.perturb), srows: make([]int, 2*o.perturb), xq: make([]int16, i16Rows*bk.Dp), mr: make([]float32, i16Rows)}
	}
	err = forChunks(ctx, V, chunkRows, a.threads, func(t, lo, hi int) {
		e := encs[t]
		var es float64
		for i := lo; i < hi; i++ {
			// The unary terms of encRows rows at once, from integer
			// products (see i16Book).
			r := (i - lo) % encRows
			if r == 0 {
				switch {
				case x8 != nil:
					e.b8.x8 = x8[i*bk.Dq : (i+i16Rows)*bk.Dq]
					copy(e.b8.corr[:], xcorr[i:i+i16Rows])
					bk.unaryI8(e.u, &e.b8, xmul[i:i+i16Rows])
				case xq != nil:
					bk.unaryI16(e.u, xq[i*bk.Dp:(i+i16Rows)*bk.Dp], xmul[i:i+i16Rows], &e.x8)
				default:
					bk.quantBlock(e.xq, e.mr, a.x[i*D:min(i+i16Rows, hi)*D], D)
					bk.unaryI16(e.u, e.xq, e.mr, &e.x8)
				}
			}
			ur := e.u[r*bk.pad : r*bk.pad+MK]
			codes := a.codes[i*M : (i+1)*M]
			x := a.x[i*D : (i+1)*D]
			es += a.weight(i) * a.encodeRow(e, x, ur, P, codes, newRowRNG(a.seed, round, i), o)
		}
		errSum[lo/chunkRows] = es
	})
	if err != nil {
		return 0, err
	}
	return a.setError(ctx, errSum)
}

// setError adds the chunks' weighted squared errors and the rows' weighted
// squared norms in chunk order, keeps the error as the encoding's and
// returns the relative error.
func (a *aq) setError(ctx context.Context, errSum []float64) (float64, error) {
	normSum, err := a.chunkNorms(ctx)
	if err != nil {
		return 0, err
	}
	var es, ns float64
	for c := range errSum {
		es += errSum[c]
		ns += normSum[c]
	}
	a.sqErr = es
	return ratio(es, ns), nil
}

// chunkNorms returns the weighted sums of the rows' squared norms by
// chunkRows rows, taken once: the table does not change, and each
// encoding pass took them again (1% of an 8x256 run).
func (a *aq) chunkNorms(ctx context.Context) ([]float64, error) {
	if a.normSum != nil {
		return a.normSum, nil
	}
	D := a.D
	ns := make([]float64, (a.V+chunkRows-1)/chunkRows)
	err := forChunks(ctx, a.V, chunkRows, a.threads, func(_, lo, hi int) {
		var s float64
		for i := lo; i < hi; i++ {
			s += a.weight(i) * sqNorm(a.x[i*D:(i+1)*D])
		}
		ns[lo/chunkRows] = s
	})
	if err != nil {
		return nil, err
	}
	a.normSum = ns
	return ns, nil
}

// uRows rows' products with the codebook are computed at a time: each
// panel of the packed codebook is read once from memory for all of them.
const uRows = 16

// encRows is uRows for the field encoder, whose ICM streams rows of P
// through the cache between two blocks of products: 8 rows' unary terms
// (64 KB at 8x256) instead of 16 made an encoding pass (with the float32
// products of embshrink-learner-10) 0.915x the time
// (median of 5 alternated pairs, BenchmarkEncodeRound256), 64 rows 1.2x
// and 128 rows 1.15x.
const encRows = 8

// crossTerms returns the cross terms P = 2 C C^T, scaled as cs, the
// scaled codebook, is (see halfScale) and rounded to float16, with its
// diagonal K x K blocks zeroed (a codebook's codes never add up with each
// other, and the zeros spare the kernels a test for each codebook's own
// block), and the codewords' squared norms, scaled the same way. (Before
// embshrink-learner-11 the scale was lost where M*K is not a multiple of
// 8, whose products take the codebook unpacked.) The products run on
// every thread through the encoder's own kernel (gonum's Sgemm took 14-20
// ms of one core at 512 codewords of 100, 4% of a GloVe 50k round). In
// float16 a field update reads half the bytes: two random rows of a [2048,
// 2048] table, 8x256's, cost 190-200 ns where float32's 16 MB table took
// 400-550 ns.
//
// Where M*K >= q8MinMK (P over 16 MB in float16) the values are rounded
// to int8 ones (roundQ8), kept as int8 where the AVX2 or AVX-512 kernels
// run (crossTab), since from there an update is bound by reading P. GloVe
// 50k at 16x256 (embshrink-learner-16): 0.1110 in 69.8 s where float16
// gave 0.1106 in 104.7 s, and over 96 rounds 0.1120 in 78.7 s; side by
// side, 165 s of CPU against 223. The ICM kernel took 0.68x its time, the
// field 0.59x, the restarts 0.62x (24 rounds' profiles); without AVX-512,
// the AVX2 kernels took 24 rounds to 0.93x the CPU time (60.9 and 57.7 s
// against 65.6 and 62.7). 12x256 (18 MB in float16): 0.1689 in 10.9 s
// against 0.1688 in 11.8 (24 rounds). Below, int8 does not pay: emulated
// at 8x256 it gave the same 0.2492 (24 rounds), but an update from int8
// rows (widened, converted, scaled: three times the instructions) took,
// two threads at once, 74 to 85 ns from 4 MB where float16's 8 MB took 74
// (from 16 MB 100 ns where 32 MB took 190). One power of two a row and
// block: a power a row gave 16x256 0.1179 against 0.1174 (24 rounds), a
// power a K x K block 8x256 0.2765 against 0.2492, one for all of P
// 0.2803.
func (a *aq) crossTerms(ctx context.Context, cs []float32) (*crossTab, []float32, error) {
	MK, K, D := a.MK, a.K, a.D
	ct := packPanels(cs, MK, D)
	// Rounded where large; kept as int8 where the kernels for them run.
	// A codebook that is not finite keeps float16 this round (on every CPU).
	round := MK >= q8MinMK && finite(cs)
	P := &crossTab{M: a.M, K: K}
	// Every value is written below; the space is kept for the next round
	// (8 MB at 8x256).
	if round && storesQ8(K) {
		if len(a.cross8) != MK*MK {
			a.cross8, a.scale8 = make([]int8, MK*MK), make([]float32, MK*a.M)
		}
		P.q, P.s = a.cross8, a.scale8
	} else {
		if len(a.cross) != MK*MK {
			a.cross = make([]uint16, MK*MK)
		}
		P.h = a.cross
	}
	norms := make([]float32, MK)
	rows := make([][]float32, a.threads)
	err := forChunks(ctx, MK, uRows, a.threads, func(t, lo, hi int) {
		if rows[t] == nil {
			rows[t] = make([]float32, uRows*MK)
		}
		buf := rows[t][:(hi-lo)*MK]
		products(buf, a.cb[lo*D:hi*D], D, cs, ct, MK)
		for r := lo; r < hi; r++ {
			row := buf[(r-lo)*MK : (r-lo+1)*MK]
			norms[r] = row[r]
			for c := range row {
				row[c] *= 2
			}
			b := r / K * K
			clear(row[b : b+K])
			switch {
			case P.q != nil:
				roundQ8(row, K, P.q[r*MK:(r+1)*MK], P.s[r*a.M:(r+1)*a.M])
			case round:
				roundQ8(row, K, nil, nil)
				fallthrough
			default:
				toHalves(P.h[r*MK:(r+1)*MK], row)
			}
		}
	})
	if err != nil {
		return nil, nil, err
	}
	return P, norms, nil
}

// halfScale returns the power of two by which the encoder scales the
// codebook's products, so that the cross terms, at most twice the largest
// squared norm of a codeword, stay below 2^15 in float16 (65504 is its
// largest value) and above 2^14 at that bound, far from its subnormals.
// A power of two scales every product, sum and norm exactly.
func halfScale(cb []float32, D int) float32 {
	var most float64
	for j := 0; j+D <= len(cb); j += D {
		most = max(most, sqNorm(cb[j:j+D]))
	}
	if most == 0 || math.IsInf(most, 0) || math.IsNaN(most) {
		return 1
	}
	return float32(math.Ldexp(1, 14-math.Ilogb(2*most)))
}

// energy returns ||x - y||^2 - ||x||^2 for codes b with field f, in the
// field's scale and with its rounded cross terms: the restarts compare by
// it, and rowError decides.
func (a *aq) energy(f, u []float32, b []uint16) float64 {
	K := a.K
	var e float64
	for m, c := range b {
		j := m*K + int(c)
		e += float64(u[j]) + float64(f[j])
	}
	return e / 2
}

// rowError returns ||x - y||^2 for the reconstruction y of codes b, the
// codewords added in order in float32 (into e.y) and the squares summed as
// sqDiff does.
func (a *aq) rowError(e *encoder, x []float32, b []uint16) float64 {
	codewordSum(e.y, a.cb, b, a.K)
	return sqDiff(x, e.y)
}

// sqDiff returns the squared distance of x and y: each difference and
// square in float64, the square rounded, summed in eight lanes, d mod 8,
// then added as ((0+4) + (2+6)) + ((1+5) + (3+7)). One running sum, 100
// additions in a chain at D = 100, took 3% of an 8x256 run, and four lanes
// in Go 2.5%; AVX-512 sums the eight lanes in one register.
func sqDiff(x, y []float32) float64 {
	y = y[:len(x)]
	if useAVX2 && useAVX512 && len(x) > 0 {
		return sqDiff512(x, y, uint8(1)<<(len(x)%8)-1)
	}
	var s [8]float64
	for d, v := range x {
		r := float64(v) - float64(y[d])
		// The conversion rounds the square: no multiply-add is fused.
		s[d%8] += float64(r * r)
	}
	return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
}

// encodeRow improves codes in place for one row x with unary terms u and
// returns the row's squared error ||x-y||^2. The restarts compare by the
// field's energies; the codes change only when their exact error is lower.
//
// Tried here and dropped, as they did not pay per second (GloVe 100-d,
// first 10,000 rows, 32x16, 8 rounds, Perturb 8, no annealing: 0.1091 in
// about 6 s): a beam search from scratch, codebook by codebook keeping the B
// best partial codes, polished by ICM and kept per row when better (B=4
// 0.1086 in 11.0 s, B=16 0.1082 in 10.9 s; 16 plain rounds reach 0.1072 in
// about 10 s); joint moves of random pairs of codebooks (the best of K*K
// codes for each pair given the rest) after every ICM descent (0.1081 in
// 10.6 s). The codebook refit already accounts for every cross term exactly
// (one least-squares solve over all M*K codewords).
//
// At K = 256 (GloVe 50k, 8x256, 24 rounds: 0.2544 in 44 s of CPU) these
// did not pay either: perturbed codes drawn among the 8 of least field
// instead of all K (0.2580, more time: ICM moves back); 2 sweeps instead of
// 4 (0.2570); no restarts (0.2669 in 51 s of CPU with greedy seeding,
// against 0.2535 in 61 s); half the rows' blocks encoded a round over
// twice the rounds (48: 0.2515 in 71 s, where 32 full rounds gave 0.2500
// in 96 s, the same curve); and, on GloVe's first 16 columns, a residual
// encoder without the cross terms (a codebook's K products with the row's
// residual a move; 12 rounds at 8x256: the same 0.0092 in 27 s of CPU
// against 11 s).
//
// The cross terms are float16 since embshrink-learner-10. A first try (the
// halves converted from a float32 P each round, and each restart's exact
// error taken) had lost its gain to those two: 24 rounds in 21.5 and 23.6
// s of CPU against 22.2 and 22.7. Made in crossTerms' own pass, and with
// the exact error of only the row's first and best codes, an encoding pass
// takes 0.83x the time (median of 5 alternated pairs,
// BenchmarkEncodeRound256) and 128 rounds 0.87x (41.1 and 44.9 s against
// 47.1 and 50.9), for the same 0.2298.
//
// Nor these, at 8x256 on GloVe 50k: sparing
// the restarts of rows whose last restarts gained nothing (half to two
// thirds of the rows gain from them each round, 66% after a
// gain and 65% after none); and the knobs around the default, at a round's
// cost: 48 rounds, 1 code re-drawn 0.2440 in 21.5 s, 2 0.2405 in 28.5 s;
// 64 rounds, 3 restarts 0.2352, 3 codes re-drawn 0.2354, anneal 0.35
// 0.2400, each in about 36 s; the anneal decaying as (1-t/T) or (1-t/T)^2
// instead of its square root, 0.2427 and 0.2461 (48 rounds); lazy fields
// (a codebook's field brought up to date from the other codes' net changes
// only when ICM visits it) spared only 17% of the rows of P read, and the
// visits' bookkeeping cost more (24 rounds in 15.1 to 16.0 s against 12.2
// to 14.4). At 16x256 (P of 64 MB) the residual encoder took 3 times the
// field's time (8 rounds, 123 s of CPU against 37, the same error).
//
// Nor, at 8x256 on GloVe 50k, a field computed afresh at each visit of a
// codebook (its unary terms plus the other codes' K cross terms, no field
// kept, ICM skipping the codebooks no other code changed since its last
// visit, the row's exact error from its codewords): about 45 visits a row
// a round, each bound by reaching seven rows of P in block m. With P in
// float32 (the AVX2 field kernel) 16 rounds took 11.4 s against 9.1, the
// same error; in float16 (AVX-512, sums and argmin in registers) 128 rounds
// took 48.6 and 43.9 s against 49.1 and 54.2, the same 0.2298; in int16
// (one scale a codebook, exact integer sums) 46.3 and 48.3 s against 50.5
// and 46.7, 0.2297; in int8, 0.2553 after 16 rounds against 0.2538, no
// faster. A visit took 40 ns with its rows of P in L2, 70 to 110 ns in
// these runs. Prefetching did not pay either: 1 to 4 KB ahead in the
// updates, 16 rounds in 8.9 to 9.8 s against 9.1 and 10.1; in the fresh
// field, the new code's row of P on each change, the next row's rows or
// the next visit's blocks, within the runs' noise. Nor did AVX-512 updates
// of the float32 field (an encoding pass, BenchmarkEncodeRound256, 0.97x
// the time, median of 7 pairs); over float16 rows the AVX-512 sweep, field
// and updates took it to about 0.85x the F16C kernels' time (the updates,
// alone, 168 ns where F16C's took 196). An update of the field (two random rows of 8 KB) in float32
// cost 176 ns from a 1 MB table, 240 ns from 4 MB, 400 ns from 16 MB, 580
// from 32. Nor did visiting the rows in the order of their first two codes
// (for rows of P still in L2): an encoding pass took 1.08 to 1.23x the time.
//
// Nor, at embshrink-learner-13 (8x256 on GloVe 50k): P in huge pages (mmap
// and MADV_HUGEPAGE, 8 MB of them in use), 30.4 s against 30.1, and at
// 16x256 (24 rounds, P of 32 MB) 24.7 and 27.0 s against 25.6 and 26.8;
// restarts whose ICM leaves the re-drawn codebooks alone for its first
// sweep, so that the others follow them (24 rounds: 0.2461 in 21.0 to 23.8
// s of CPU, where plain restarts gave 0.2492 in 18.5 s and over 30 rounds
// 0.2465 in 21.6 s: the same curve). Skipping the update of the changed
// codebook's own block (zero in P) paid only with the least fields kept:
// the kernel's profile 4.18, 3.91 and 3.85 s against 4.15, 4.52 and 4.31
// (without them, 4.96 and 4.75 against 4.61 and 4.58).
//
// Nor, at embshrink-learner-15 (8x256 on GloVe 50k, 24 rounds: 0.2492),
// where restarts make most of the work (the first descent changes 1.08
// codes a row, each restart's 4.8 after its 2 re-drawn; of 2.4 million
// restarts 54% end at the best codes again, 28% at worse, 18% lower the
// energy):
//   - candidates pruned to a few groups of similar codewords a codebook
//     (each codebook's codewords split in halves along their principal
//     direction down to groups of 32, the 64 codes of the row's 2 groups of
//     least field its candidates, so that an update would read 2 cache lines
//     of each block instead of 8): 0.2560; 4 groups 0.2516, 8 groups of 8
//     0.2522, 4 of 16 0.2535: the best code falls outside;
//   - ICM moving the codebook of largest gain first instead of each in
//     turn: half the changes (1.71 against 3.54 a descent), but 0.2583, as
//     it undoes the re-drawn codes first; in the first descent alone, 0.96
//     against 1.08 changes and the same 0.2492;
//   - the restarts' re-drawn rows of P, or their first 512 bytes, or the
//     next row's field rows prefetched as a row begins: restart512 took
//     0.3 to 0.6 s less of 30 rounds' 10 s, and the prefetches as much;
//   - abandoning a restart after its first sweep, which makes 68% of its
//     changes (24%, 6% and 1.5% the next three): the share of its
//     perturbation's energy left then barely tells the 18% that will gain
//     (22% of those with none left gain, 13% of those with 0.2 to 0.3
//     left), so cutting at 0.3 would have spared the later sweeps of 17%
//     of the restarts and lost 12% of the gains;
//   - restarts drawn where they gain more: none is. By the rank of the
//     re-drawn code's field (eighths of K), a restart gains 15% to 19% of
//     the time whatever the rank; by the codebook re-drawn, 16% to 21%.
//     Rows of larger error gain more (a restart of a row at relative error
//     0.4 to 0.5 gains 6 times what one at 0.1 to 0.2 does), but restarts
//     given to the rows in proportion to their last weighted error (its
//     square root, its square) gave 0.2490 (0.2491, 0.2495); at 1 restart
//     on average 0.2527 against 0.2529.
func (a *aq) encodeRow(e *encoder, x, u []float32, P *crossTab, codes []uint16, rng rowRNG, o encodeOpts) float64 {
	sweeps, restarts, perturb := o.sweeps, o.restarts, o.perturb
	M, K := a.M, a.K
	prefetchCodewords(a.cb, codes, K, a.D)
	prefetchFloats(x)
	copy(e.cur, codes)
	P.field(e.f, u, e.cur, e.off, e.soff)
	P.icm(e.f, e.cur, sweeps*M)
	bestE := a.energy(e.f, u, e.cur)
	copy(e.best, e.cur)
	// Swapped, not copied: each restart writes all of f (the copies of 8 KB
	// at 8x256 were 2% of a run's CPU time).
	e.f, e.bestF = e.bestF, e.f
	MK := a.MK
	for r := 0; r < restarts; r++ {
		copy(e.cur, e.best)
		// Re-draw perturb codes, then make the field in one pass.
		rows := e.rows[:0]
		for p := 0; p < perturb; p++ {
			m, k := rng.intn(M), rng.intn(K)
			rows = append(rows, (m*K+k)*MK, (m*K+int(e.cur[m]))*MK)
			e.cur[m] = uint16(k)
		}
		P.restart(e.f, e.bestF, rows, e.srows)
		P.icm(e.f, e.cur, sweeps*M)
		if en := a.energy(e.f, u, e.cur); en < bestE {
			bestE = en
			copy(e.best, e.cur)
			e.f, e.bestF = e.bestF, e.f
		}
	}
	start := a.rowError(e, x, codes)
	if slices.Equal(e.best, codes) {
		return start
	}
	if best := a.rowError(e, x, e.best); best < start {
		copy(codes, e.best)
		return best
	}
	return start
}
