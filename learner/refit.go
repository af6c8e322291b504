package learner

import (
	"context"
	"errors"

	"gonum.org/v1/gonum/mat"
)

// refit solves for the codebook that minimises the weighted error given the
// current codes.
func (a *aq) refit(ctx context.Context) error {
	if a.MK > maxCholeskyMK {
		return a.refitBlocks(ctx, 2)
	}
	MK, M, K, D, V := a.MK, a.M, a.K, a.D, a.V
	G := make([]float64, MK*MK)
	// Parallel over codebooks m: task m owns rows m*K..m*K+K-1 of G and
	// visits the codes in order, so sums are independent of threads.
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
	if err != nil {
		return err
	}
	B, err := a.codewordSums(ctx)
	if err != nil {
		return err
	}
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
	for tries := 0; tries < 6; tries++ {
		S := mat.NewSymDense(MK, nil)
		for r := 0; r < MK; r++ {
			for c := r; c < MK; c++ {
				S.SetSym(r, c, G[r*MK+c])
			}
			S.SetSym(r, r, G[r*MK+r]+lambda)
		}
		var ch mat.Cholesky
		if !ch.Factorize(S) {
			lambda *= 100
			continue
		}
		var sol mat.Dense
		if err := ch.SolveTo(&sol, mat.NewDense(MK, D, B)); err != nil {
			lambda *= 100
			continue
		}
		for r := 0; r < MK; r++ {
			for j := 0; j < D; j++ {
				a.cb[r*D+j] = float32(sol.At(r, j))
			}
		}
		return nil
	}
	return errors.New("normal equations are not positive definite")
}

// refitParts is the number of parts of the rows whose codeword sums are
// added separately and then in order: fixed, so that the sums do not depend
// on the thread count.
const refitParts = 8

// codewordSums returns B, [M*K, D]: row m*K+k is the weighted sum of the
// rows whose code m is k. Each part of the rows is read once, every row
// adding into its M rows of the part's sums (one task a codebook read the
// whole table M times: 4.4 GB a round for the whole GloVe table).
func (a *aq) codewordSums(ctx context.Context) ([]float64, error) {
	V, D, M, K, MK := a.V, a.D, a.M, a.K, a.MK
	n := min(refitParts, V)
	parts := make([][]float64, n)
	err := forChunks(ctx, n, 1, a.threads, func(_, p, _ int) {
		b := make([]float64, MK*D)
		for i := p * V / n; i < (p+1)*V/n; i++ {
			w := a.weight(i)
			if w == 0 {
				continue
			}
			x := a.x[i*D : (i+1)*D]
			for m, c := range a.codes[i*M : (i+1)*M] {
				r := m*K + int(c)
				accum64(b[r*D:(r+1)*D], x, w)
			}
		}
		parts[p] = b
	})
	if err != nil {
		return nil, err
	}
	B := parts[0]
	for _, b := range parts[1:] {
		for j, v := range b {
			B[j] += v
		}
	}
	return B, nil
}

func orDefaultF(v, d float64) float64 {
	if v <= 0 {
		return d
	}
	return v
}

// refitBlocks updates one codebook at a time to the weighted mean residual of
// its clusters (block coordinate descent), for M*K too large for a joint
// solve.
func (a *aq) refitBlocks(ctx context.Context, passes int) error {
	V, D, M, K := a.V, a.D, a.M, a.K
	y := Reconstruct(a.codes, a.cb, V, D, M, K)
	sum := make([]float64, K*D)
	cnt := make([]float64, K)
	for p := 0; p < passes; p++ {
		for m := 0; m < M; m++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			clear(sum)
			clear(cnt)
			cbm := a.cb[m*K*D : (m+1)*K*D]
			for i := 0; i < V; i++ {
				w := a.weight(i)
				if w == 0 {
					continue
				}
				k := int(a.codes[i*M+m])
				cnt[k] += w
				c := cbm[k*D : (k+1)*D]
				s := sum[k*D : (k+1)*D]
				for j := 0; j < D; j++ {
					s[j] += w * float64(a.x[i*D+j]-y[i*D+j]+c[j])
				}
			}
			old := make([]float32, K*D)
			copy(old, cbm)
			for k := 0; k < K; k++ {
				if cnt[k] == 0 {
					continue
				}
				for j := 0; j < D; j++ {
					cbm[k*D+j] = float32(sum[k*D+j] / cnt[k])
				}
			}
			for i := 0; i < V; i++ {
				k := int(a.codes[i*M+m])
				for j := 0; j < D; j++ {
					y[i*D+j] += cbm[k*D+j] - old[k*D+j]
				}
			}
		}
	}
	return nil
}
