package learner

import (
	"context"
	"math"
	"slices"
	"testing"
)

// TestAssignInt: above intLloydK codewords Lloyd's assignment from integer
// products picks the float32 products' nearest centroid but for near ties,
// with the same distances to within the quantisation (a thousandth of a
// point's squared norm), and the same bytes on any number of threads.
func TestAssignInt(t *testing.T) {
	V, D, K := 2000, 100, 128
	x := gaussian(V, D, 7)
	run := func(threads int, integer bool) ([]int32, []float64) {
		a := newAQ(x, V, D, Config{M: 1, K: K, Threads: threads})
		l := newLloyd(a, x)
		l.setNorms()
		if l.ip == nil {
			t.Fatalf("K = %d: the points were not quantised", K)
		}
		if !integer {
			l.ip = nil
		}
		cent := slices.Clone(x[:K*D])
		assign, dist := make([]int32, V), make([]float64, V)
		if _, err := l.assign(context.Background(), cent, assign, dist, false); err != nil {
			t.Fatal(err)
		}
		return assign, dist
	}
	fa, fd := run(2, false)
	ia, id := run(2, true)
	moved := 0
	for i := range fa {
		if fa[i] != ia[i] {
			moved++
		}
		// The products are rounded relative to the norms.
		if math.Abs(fd[i]-id[i]) > 1e-3*sqNorm(x[i*D:(i+1)*D]) {
			t.Fatalf("row %d: distance %g from integers, %g from float32", i, id[i], fd[i])
		}
	}
	if moved > V/200 {
		t.Errorf("%d of %d rows took another centroid than float32's", moved, V)
	}
	for _, threads := range []int{1, 3} {
		if a, d := run(threads, true); !slices.Equal(a, ia) || !slices.Equal(d, id) {
			t.Errorf("%d threads gave other assignments or distances than 2", threads)
		}
	}
	// At K <= intLloydK the products stay float32.
	a := newAQ(x, V, D, Config{M: 1, K: intLloydK, Threads: 2})
	l := newLloyd(a, x)
	l.setNorms()
	if l.ip != nil {
		t.Errorf("K = %d: the points were quantised", intLloydK)
	}
}

// TestFullStateNotQuantised: where the initialisation trains on a sample,
// its iterations take integer products and the one assignment of every
// row after them float32 ones (quantising every row took a pass for it).
func TestFullStateNotQuantised(t *testing.T) {
	const V, D, K = 70000, 4, 128
	x := gaussian(V, D, 5)
	a := newAQ(x, V, D, Config{M: 1, K: K, Threads: 2})
	train := a.sampleRows(initSampleRows(K), 0x1417)
	if train == nil {
		t.Fatalf("%d rows: no sample for K = %d", V, K)
	}
	res, _ := a.residualRows(train)
	st := a.newStages(res, train)
	st.l.setNorms()
	st.full.setNorms()
	if st.l.ip == nil || st.full.ip != nil {
		t.Errorf("quantised: the sample's %v, every row's %v; want true, false", st.l.ip != nil, st.full.ip != nil)
	}
}
