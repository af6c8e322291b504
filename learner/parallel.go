package learner

import (
	"context"
	"sync"
	"sync/atomic"
)

// chunkRows is the fixed number of rows per work item. Work is always split
// into the same chunks whatever the thread count, and every output element is
// produced by exactly one chunk, so results do not depend on Threads.
const chunkRows = 128

// forChunks calls fn(lo, hi) for every chunk [lo, hi) of n items, using up to
// threads goroutines. fn must only write state owned by its chunk. It stops
// early (returning ctx.Err()) when ctx is cancelled.
func forChunks(ctx context.Context, n, chunk, threads int, fn func(worker, lo, hi int)) error {
	nChunks := (n + chunk - 1) / chunk
	if threads > nChunks {
		threads = nChunks
	}
	if threads < 1 {
		threads = 1
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < threads; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for {
				if ctx.Err() != nil {
					return
				}
				c := int(next.Add(1)) - 1
				if c >= nChunks {
					return
				}
				lo := c * chunk
				hi := min(lo+chunk, n)
				fn(w, lo, hi)
			}
		}(w)
	}
	wg.Wait()
	return ctx.Err()
}

// both runs f and g, at once on two goroutines when threads > 1, one after
// the other otherwise, and returns when both are done.
func both(threads int, f, g func()) {
	if threads <= 1 {
		f()
		g()
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		g()
	}()
	f()
	<-done
}

// splitmix64 is a small, well-mixed hash used to derive per-row random
// streams from (seed, round, row), which keeps randomness independent of the
// scheduling of rows onto threads.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// rowRNG is a tiny deterministic generator (splitmix64 stream).
type rowRNG struct{ s uint64 }

func newRowRNG(seed int64, round, row int) rowRNG {
	return rowRNG{s: splitmix64(splitmix64(uint64(seed)^0x5bd1e995) ^ splitmix64(uint64(round)<<32|uint64(uint32(row))))}
}

func (r *rowRNG) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// intn returns a value in [0, n).
func (r *rowRNG) intn(n int) int { return int((r.next() >> 11) % uint64(n)) }

// float64 returns a value in [0, 1).
func (r *rowRNG) float64() float64 { return float64(r.next()>>11) / (1 << 53) }
