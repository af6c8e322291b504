package learner

// The two inner loops of ICM encoding, with an AVX2 version on amd64 (most
// of the refinement's time: on GloVe 10k 32x16 the field updates and the
// argmin scans were 51% of the CPU time with gonum's Saxpy and a plain
// loop). Both versions do the same float32 operations in the same order, so
// results do not depend on which one runs.

// addDiff sets f[j] = f[j] + (a[j] - b[j]) for every j < len(f).
func addDiff(f, a, b []float32) {
	n := len(f)
	a, b = a[:n], b[:n]
	done := 0
	if useAVX2 && n >= 8 {
		done = n &^ 7
		addDiffAVX2(f[:done], a[:done], b[:done])
	}
	for j := done; j < n; j++ {
		f[j] += a[j] - b[j]
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
