package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// runWideNpy writes a wide table made from a narrow one, for the learner's
// figures on wide tables where no real one can be had here: the first
// --rows rows of IN (GloVe's [341479, 100], say) through a fixed random
// [cols, --dim] projection of unit gain, plus Gaussian noise of --noise
// times the projected values' mean square. The rows keep the narrow
// table's structure, the noise keeps the wide one from having only its
// rank.
func runWideNpy(args []string) error {
	fs := flag.NewFlagSet("wide-npy", flag.ContinueOnError)
	in := fs.String("in", "", "input float32 [N, C] .npy")
	out := fs.String("out", "", "output float32 [rows, dim] .npy")
	rows := fs.Int("rows", 250000, "rows taken from the input's start")
	dim := fs.Int("dim", 768, "output columns")
	noise := fs.Float64("noise", 0.3, "noise variance relative to the projected values' mean square")
	seed := fs.Uint64("seed", 1, "seed of the projection and the noise")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() != 0 || *rows <= 0 || *dim <= 0 || !(*noise >= 0) {
		return fmt.Errorf("wide-npy: usage: wide-npy --in N.npy --out W.npy [--rows R --dim D --noise F --seed S]")
	}
	start := time.Now()
	n, err := writeWide(*in, *out, *rows, *dim, *noise, *seed)
	if err != nil {
		return fmt.Errorf("wide-npy: %w", err)
	}
	fmt.Printf("wide-npy: wrote %s: float32 [%d, %d] in %.1fs\n", *out, n, *dim, time.Since(start).Seconds())
	return nil
}

// writeWide streams rows of in through the projection into out and
// returns the rows written: in's first rows, or all of them if it has
// fewer. The noise's scale is set from the input's mean square, which the
// projection keeps (its entries have variance 1/C).
func writeWide(in, out string, rows, dim int, noise float64, seed uint64) (int, error) {
	ms, err := meanSquare(in, rows)
	if err != nil {
		return 0, err
	}
	r, err := openNpyF32(in)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	C := r.cols
	buf := make([]byte, 4*C)
	rng := rand.New(rand.NewPCG(seed, 0x31de))
	proj := make([]float64, C*dim)
	for i := range proj {
		proj[i] = rng.NormFloat64() / math.Sqrt(float64(C))
	}
	w, err := createNpy(out, dim)
	if err != nil {
		return 0, err
	}
	sd := math.Sqrt(noise * ms)
	x, y := make([]float32, C), make([]float64, dim)
	n := min(rows, r.rows)
	for i := 0; i < n; i++ {
		if err := r.readRow(x, buf); err != nil {
			w.Close()
			return 0, fmt.Errorf("%s: row %d: %w", in, i, err)
		}
		clear(y)
		for c, v := range x {
			for j, p := range proj[c*dim : (c+1)*dim] {
				y[j] += float64(v) * p
			}
		}
		for j := range y {
			y[j] += sd * rng.NormFloat64()
		}
		if err := w.WriteRow(y); err != nil {
			w.Close()
			return 0, err
		}
	}
	return n, w.Close()
}

// meanSquare returns the mean square of the values of in's first rows.
func meanSquare(in string, rows int) (float64, error) {
	r, err := openNpyF32(in)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	x, buf := make([]float32, r.cols), make([]byte, 4*r.cols)
	var s float64
	n := min(rows, r.rows)
	for i := 0; i < n; i++ {
		if err := r.readRow(x, buf); err != nil {
			return 0, fmt.Errorf("%s: row %d: %w", in, i, err)
		}
		for _, v := range x {
			s += float64(v) * float64(v)
		}
	}
	if n == 0 || r.cols == 0 {
		return 0, fmt.Errorf("%s: no values", in)
	}
	return s / float64(n*r.cols), nil
}
