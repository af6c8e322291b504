package learner

import (
	"context"
	"sync/atomic"
)

// Lloyd's assignment above intLloydK codewords takes its products from
// integers, as the encoder's unary terms do (see i16Book): the points
// quantised once a stage, the centroids once an iteration. GloVe 50k at
// 8x256 (embshrink-learner-20): the initialisation took 2.4 to 2.5 s where
// float32 products took 3.1 to 3.3 (three runs each, alternated), and 128
// rounds ended where they did with float32 products (0.2265; 16x256
// 0.1018; the first 16 and 64 columns 0.0080 and 0.1673, 4x256 0.0730
// against 0.0728; vibe's [15000, 64] 8x256 0.1938 against 0.1937, 16x256
// 0.0436 against 0.0433). The assignments differ from float32's for a few
// rows in ten thousand, nearly tied ones.
const (
	intLloydK = 64
	// maxIntPoints bounds the bytes of the quantised points a Lloyd state
	// keeps; larger ones take float32 products. 256 MiB since
	// embshrink-learner-21, so that the 65,536 training rows of a wide
	// table take them ([250000, 768], from embshrink-bench wide-npy: 100
	// MB quantised; the initialisation of 8x256 in 34.1 s instead of 40.8
	// with float32 seeding), and the one assignment of every row after a
	// sample's iterations keeps float32 products (once: quantising the
	// rows would take a pass of its own), as the whole GloVe table's did.
	// (In one of those runs a stage's seeding drew a row near the mean,
	// as float32 runs with other seeds did; see fromMean.)
	maxIntPoints = 1 << 28
)

// intPoints holds a Lloyd state's points quantised for integer products.
type intPoints struct {
	b, Dp int
	xq    []int16   // [rows, Dp], the rows padded to a multiple of i16Rows
	mr    []float32 // their scales
	u     [][]float32
	sc    []*byteRows
}

// quantisePoints sets l.ip to l's points quantised, where K and their
// size call for it; setNorms calls it whenever the points change.
func (l *lloyd) quantisePoints() {
	a := l.a
	D, Dp := a.D, a.D+a.D&1
	rows := (a.V + i16Rows - 1) / i16Rows * i16Rows
	if a.K <= intLloydK || l.once || rows*Dp*2 > maxIntPoints {
		return
	}
	ip := l.ip
	if ip == nil {
		ip = &intPoints{b: i16Bits(D), Dp: Dp, xq: make([]int16, rows*Dp), mr: make([]float32, rows),
			u: make([][]float32, a.threads), sc: make([]*byteRows, a.threads)}
		for t := range ip.u {
			ip.u[t] = make([]float32, i16Rows*((a.K+15)&^15))
			ip.sc[t] = &byteRows{}
		}
		l.ip = ip
	}
	// Each row is its own; without cancellation the error is nil.
	_ = forChunks(context.Background(), a.V, chunkRows, a.threads, func(_, lo, hi int) {
		for i := lo; i < hi; i++ {
			ip.mr[i] = quantRow(ip.xq[i*Dp:(i+1)*Dp], l.pts[i*D:(i+1)*D], ip.b)
		}
	})
}

// assignInt is assign from integer products: the centroids cent (with
// their squared norms in l.cnorm) quantised to the points' bits.
func (l *lloyd) assignInt(ctx context.Context, cent []float32, assign []int32, dist []float64, sums bool) (int, error) {
	a, ip := l.a, l.ip
	K := a.K
	bk := newI16Book(cent, K, a.D, l.cnorm, 1, ip.b)
	var changed atomic.Int64
	err := forChunks(ctx, a.V, updateRows, a.threads, func(t, lo, hi int) {
		u, n := ip.u[t], 0
		for b := lo; b < hi; b += i16Rows {
			bk.unaryI16(u, ip.xq[b*ip.Dp:(b+i16Rows)*ip.Dp], ip.mr[b:b+i16Rows], ip.sc[t])
			for i := b; i < min(b+i16Rows, hi); i++ {
				n += settle(u[(i-b)*bk.pad:(i-b)*bk.pad+K], i, l.pnorm, assign, dist)
			}
		}
		changed.Add(int64(n))
		if sums {
			l.chunkSums(lo, hi, assign)
		}
	})
	return int(changed.Load()), err
}
