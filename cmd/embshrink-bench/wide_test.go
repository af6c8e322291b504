package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/embshrink/embshrink/internal/npy"
)

// TestWriteWide checks wide-npy's table: the input's first rows, each
// through one linear map (a row that is the sum of two maps to the sum of
// theirs), noise of the asked share of the mean square on top, and the
// same bytes for the same seed.
func TestWriteWide(t *testing.T) {
	const N, C, rows, dim = 300, 4, 256, 16
	in := make([]float32, N*C)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)*0.7) * 3)
	}
	copy(in[2*C:3*C], []float32{in[0] + in[C], in[1] + in[C+1], in[2] + in[C+2], in[3] + in[C+3]})
	dir := t.TempDir()
	src := filepath.Join(dir, "in.npy")
	if err := npy.WriteFile(src, npy.FromFloat32([]int{N, C}, in)); err != nil {
		t.Fatal(err)
	}
	write := func(name string, noise float64) []float32 {
		path := filepath.Join(dir, name)
		n, err := writeWide(src, path, rows, dim, noise, 7)
		if err != nil || n != rows {
			t.Fatalf("writeWide: %d rows, %v; want %d", n, err, rows)
		}
		a, err := npy.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Shape) != 2 || a.Shape[0] != rows || a.Shape[1] != dim {
			t.Fatalf("shape %v, want [%d, %d]", a.Shape, rows, dim)
		}
		v, err := a.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	clean, noisy := write("clean.npy", 0), write("noisy.npy", 0.3)
	for j := 0; j < dim; j++ {
		if d := clean[2*dim+j] - clean[j] - clean[dim+j]; math.Abs(float64(d)) > 1e-4 {
			t.Fatalf("column %d: row 2 maps to %g more than rows 0 and 1 together", j, d)
		}
	}
	var ms, ns float64
	for i := range clean {
		ns += float64(noisy[i]-clean[i]) * float64(noisy[i]-clean[i])
	}
	for _, v := range in[:rows*C] {
		ms += float64(v) * float64(v)
	}
	if share := (ns / float64(rows*dim)) / (ms / float64(rows*C)); share < 0.25 || share > 0.35 {
		t.Errorf("noise of %.3f of the mean square, want 0.3", share)
	}
	a, _ := os.ReadFile(filepath.Join(dir, "noisy.npy"))
	write("again.npy", 0.3)
	if b, _ := os.ReadFile(filepath.Join(dir, "again.npy")); !bytes.Equal(a, b) {
		t.Error("the same seed wrote other bytes")
	}
}
