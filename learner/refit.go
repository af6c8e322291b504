package learner

import (
	"context"
	"errors"
	"slices"

	"gonum.org/v1/gonum/mat"
)

// refit solves for the codebook that minimises the weighted error given the
// current codes. With more than one thread the normal equations' matrix is
// factorised while the codeword sums are added (the factorisation runs on
// one core, 20 ms at M*K = 512), and the solve runs in two halves of the
// columns at once (go test -bench 'Refit$', one thread: 0.95x the previous
// refit's time, medians of 6; with the factorisation on the other core,
// 0.7x).
func (a *aq) refit(ctx context.Context) error { return a.refitSteps(ctx, cgIters) }

// refitSteps is refit, by steps conjugate-gradient steps where it takes
// them.
func (a *aq) refitSteps(ctx context.Context, steps int) error {
	if a.MK > maxCholeskyMK {
		return a.refitCG(ctx, steps)
	}
	return a.refitExact(ctx)
}

// refitExact is refit by Cholesky factorisation of the normal equations.
func (a *aq) refitExact(ctx context.Context) error {
	G, err := a.pairSums(ctx)
	if err != nil {
		return err
	}
	MK := a.MK
	var trace float64
	for r := 0; r < MK; r++ {
		trace += G[r*MK+r]
		for c := r + 1; c < MK; c++ {
			G[c*MK+r] = G[r*MK+c]
		}
	}
	lambda := orDefaultF(a.cfg.Ridge, defaultRidge) * trace / float64(MK)
	if !(lambda > 0) {
		lambda = 1e-12
	}
	var B []float64
	var ch *mat.Cholesky
	both(a.threads, func() { B, err = a.codewordSums(ctx) }, func() { ch = factor(G, MK, lambda) })
	if err != nil {
		return err
	}
	for tries := 0; tries < 6; tries++ {
		if tries > 0 {
			lambda *= 100
			ch = factor(G, MK, lambda)
		}
		if ch == nil {
			continue
		}
		if err := a.solveInto(ch, B); err == nil {
			return nil
		}
	}
	return errors.New("normal equations are not positive definite")
}

// pairSums returns G, [M*K, M*K] with only its upper triangle filled: the
// weighted number of rows with each pair of codes. Parallel over codebooks
// m: task m owns rows m*K..m*K+K-1 of G and visits the codes in order, so
// sums are independent of threads.
func (a *aq) pairSums(ctx context.Context) ([]float64, error) {
	M, K, MK, V := a.M, a.K, a.MK, a.V
	G := make([]float64, MK*MK)
	err := forChunks(ctx, M, 1, a.threads, func(_, m, _ int) {
		for i := 0; i < V; i++ {
			w := a.weight(i)
			if w == 0 {
				continue
			}
			code := a.codes[i*M : (i+1)*M]
			r := m*K + int(code[m])
			g := G[r*MK : (r+1)*MK]
			for m2 := m; m2 < M; m2++ {
				g[m2*K+int(code[m2])] += w
			}
		}
	})
	return G, err
}

// factor returns the Cholesky factor of G + lambda I, nil if it is not
// positive definite.
func factor(G []float64, n int, lambda float64) *mat.Cholesky {
	S := mat.NewSymDense(n, nil)
	for r := 0; r < n; r++ {
		for c := r; c < n; c++ {
			S.SetSym(r, c, G[r*n+c])
		}
		S.SetSym(r, r, G[r*n+r]+lambda)
	}
	var ch mat.Cholesky
	if !ch.Factorize(S) {
		return nil
	}
	return &ch
}

// solveInto solves ch X = B, [M*K, D], into the codebook, the first D/2
// columns and the rest at once: always two halves, whatever the thread
// count, so the bytes do not depend on it.
func (a *aq) solveInto(ch *mat.Cholesky, B []float64) error {
	MK, D := a.MK, a.D
	half := [2][2]int{{0, D / 2}, {D / 2, D}}
	var errs [2]error
	var sols [2]mat.Dense
	solve := func(h int) {
		lo, hi := half[h][0], half[h][1]
		if lo == hi {
			return
		}
		rhs := mat.NewDense(MK, hi-lo, nil)
		for r := 0; r < MK; r++ {
			for j := lo; j < hi; j++ {
				rhs.Set(r, j-lo, B[r*D+j])
			}
		}
		errs[h] = ch.SolveTo(&sols[h], rhs)
	}
	both(a.threads, func() { solve(0) }, func() { solve(1) })
	if err := errors.Join(errs[0], errs[1]); err != nil {
		return err
	}
	for h, lim := range half {
		for r := 0; r < MK; r++ {
			for j := lim[0]; j < lim[1]; j++ {
				a.cb[r*D+j] = float32(sols[h].At(r, j-lim[0]))
			}
		}
	}
	return nil
}

// refitParts is the number of parts of the rows whose codeword sums are
// added separately and then in order: fixed, so that the sums do not depend
// on the thread count.
const refitParts = 8

// codewordSums returns B, [M*K, D]: row m*K+k is the weighted sum of the
// rows whose code m is k. Each part of the rows is read once, every row
// adding into its M rows of the part's sums (one task a codebook read the
// whole table M times: 4.4 GB a round for the whole GloVe table). The sums
// run in float32 over blocks of sumRowsPerCode*K rows and the blocks add in
// float64: the part's float32 sums (200 KB at 32x16 and D=100) stay in a
// core's L2, where the float64 ones did not (GloVe 50k 32x16, one thread:
// the sums took 0.64x the time, medians of 15 in one process). A block is
// about 32 rows a codeword whatever K: at 8x256 blocks of 512 rows, 2 a
// codeword, added and cleared 800 KB of sums every 512 rows.
func (a *aq) codewordSums(ctx context.Context) ([]float64, error) {
	D := a.D
	return a.scatterSums(ctx, func(i int, _ []float32) []float32 { return a.x[i*D : (i+1)*D] })
}

// scatterSums returns, [M*K, D], for each codeword the weighted sum of
// row(i) over the rows i whose codes select it, summed as codewordSums
// says. row may fill and return buf, D floats of the calling thread's.
func (a *aq) scatterSums(ctx context.Context, row func(i int, buf []float32) []float32) ([]float64, error) {
	V, D, M, K, MK := a.V, a.D, a.M, a.K, a.MK
	n := min(refitParts, V)
	if len(a.sums) != n {
		// Kept for the next call: the CG refit makes 7 a round, and fresh
		// parts were 20 MB of allocation a call at 8x256 (D = 100).
		a.sums = make([]sumPart, n)
		for p := range a.sums {
			a.sums[p] = sumPart{make([]float64, MK*D), make([]float32, MK*D)}
		}
	}
	parts := make([][]float64, n)
	blockRows := sumRowsPerCode * K
	err := forChunks(ctx, n, 1, a.threads, func(_, p, _ int) {
		b, b32 := a.sums[p].b, a.sums[p].b32
		clear(b)
		clear(b32)
		buf, wv := make([]float32, D), make([]float32, D)
		lo, hi := p*V/n, (p+1)*V/n
		for s := lo; s < hi; s += blockRows {
			for i := s; i < min(s+blockRows, hi); i++ {
				w := a.weight(i)
				if w == 0 {
					continue
				}
				v := row(i, buf)
				if w != 1 {
					// w*v rounded once, as it would be for each codeword.
					for j, x := range v {
						wv[j] = float32(w) * x
					}
					v = wv
				}
				scatterAdd(b32, v, a.codes[i*M:(i+1)*M], K)
			}
			accum64(b, b32, 1)
			clear(b32)
		}
		parts[p] = b
	})
	if err != nil {
		return nil, err
	}
	return addParts(append([][]float64{slices.Clone(parts[0])}, parts[1:]...)), nil
}

// sumPart is one part's sums of scatterSums, kept between calls.
type sumPart struct {
	b   []float64
	b32 []float32
}

// addParts adds the threads' partial sums into the first, in thread order
// (so the same sums for the same thread count).
func addParts(parts [][]float64) []float64 {
	B := parts[0]
	for _, b := range parts[1:] {
		for j, v := range b {
			B[j] += v
		}
	}
	return B
}

// sumRowsPerCode*K rows' codeword sums add in float32 before they go into
// the float64 sums: about 32 rows a codeword, whatever K.
const sumRowsPerCode = 32

func orDefaultF(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}
