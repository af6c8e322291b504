package compress_test

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
)

// weightsTable writes a random [v, d] float32 table and returns its path.
func weightsTable(t *testing.T, dir string, v, d int) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(3, 4))
	vals := make([]float32, v*d)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	path := filepath.Join(dir, "table.npy")
	if err := npy.WriteFile(path, npy.FromFloat32([]int{v, d}, vals)); err != nil {
		t.Fatal(err)
	}
	return path
}

// learnWeighted learns the table with the weights file and returns the
// codes and codebook files' bytes, or the error.
func learnWeighted(t *testing.T, table, weights, name string) ([]byte, []byte, error) {
	t.Helper()
	dir := filepath.Dir(table)
	codes, book := filepath.Join(dir, name+".codes.npy"), filepath.Join(dir, name+".book.npy")
	cfg := learner.Config{M: 2, K: 8, Seed: 1, Threads: 1, Iterations: 3}
	_, err := compress.LearnFile(context.Background(), compress.Source{NPY: table, Weights: weights}, cfg, codes, book)
	if err != nil {
		return nil, nil, err
	}
	c, err := os.ReadFile(codes)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(book)
	if err != nil {
		t.Fatal(err)
	}
	return c, b, nil
}

// TestLearnFileIntegerWeights wants counts in any integer or float dtype
// numpy writes (np.bincount writes int64) to learn exactly the codes and
// codebook that the same counts as float32 learn.
func TestLearnFileIntegerWeights(t *testing.T) {
	dir := t.TempDir()
	const V = 96
	table := weightsTable(t, dir, V, 4)
	counts := make([]int64, V)
	for i := range counts {
		counts[i] = int64(i*7%11) * int64(i%3) // zeros among them
	}
	as := func(descr string, size int, put func([]byte, int64)) *npy.Array {
		a := &npy.Array{DType: descr, Shape: []int{V}, Data: make([]byte, V*size)}
		for i, c := range counts {
			put(a.Data[i*size:], c)
		}
		return a
	}
	f32 := make([]float32, V)
	f64 := make([]float64, V)
	for i, c := range counts {
		f32[i], f64[i] = float32(c), float64(c)
	}
	ref := filepath.Join(dir, "w_f4.npy")
	if err := npy.WriteFile(ref, npy.FromFloat32([]int{V}, f32)); err != nil {
		t.Fatal(err)
	}
	wantCodes, wantBook, err := learnWeighted(t, table, ref, "ref")
	if err != nil {
		t.Fatal(err)
	}
	for name, a := range map[string]*npy.Array{
		"i8": npy.FromInt64([]int{V}, counts),
		"f8": npy.FromFloat64([]int{V}, f64),
		"i4": as("<i4", 4, func(b []byte, c int64) { b[0], b[1], b[2], b[3] = byte(c), 0, 0, 0 }),
		"u1": as("|u1", 1, func(b []byte, c int64) { b[0] = byte(c) }),
		"i1": as("|i1", 1, func(b []byte, c int64) { b[0] = byte(c) }),
		"u2": as("<u2", 2, func(b []byte, c int64) { b[0], b[1] = byte(c), 0 }),
		"u8": as("<u8", 8, func(b []byte, c int64) { copy(b, []byte{byte(c), 0, 0, 0, 0, 0, 0, 0}) }),
	} {
		path := filepath.Join(dir, "w_"+name+".npy")
		if err := npy.WriteFile(path, a); err != nil {
			t.Fatal(err)
		}
		c, b, err := learnWeighted(t, table, path, name)
		if err != nil {
			t.Errorf("%s weights: %v", name, err)
			continue
		}
		if !bytes.Equal(c, wantCodes) || !bytes.Equal(b, wantBook) {
			t.Errorf("%s weights learned other codes or codebook than the same weights as float32", name)
		}
	}
}

// TestLearnFileBadWeights wants a weight that is negative, NaN or not
// finite as float32 refused with one line naming the file and the element,
// and weights that are all zero refused naming the file.
func TestLearnFileBadWeights(t *testing.T) {
	dir := t.TempDir()
	const V = 16
	table := weightsTable(t, dir, V, 4)
	ones := func() []float64 {
		w := make([]float64, V)
		for i := range w {
			w[i] = 1
		}
		return w
	}
	neg := make([]int64, V)
	neg[5] = -3
	tests := []struct {
		name string
		a    *npy.Array
		want string
	}{
		{"negative count", npy.FromInt64([]int{V}, neg), "element 5 is -3"},
		{"NaN", npy.FromFloat32([]int{V}, []float32{0: 1, 2: float32(math.NaN()), V - 1: 1}), "element 2 is NaN"},
		{"infinite", func() *npy.Array { w := ones(); w[9] = math.Inf(1); return npy.FromFloat64([]int{V}, w) }(), "element 9 is +Inf"},
		{"beyond float32", func() *npy.Array { w := ones(); w[7] = 1e300; return npy.FromFloat64([]int{V}, w) }(), "element 7 is +Inf (as float32"},
		{"negative float", func() *npy.Array { w := ones(); w[15] = -0.5; return npy.FromFloat64([]int{V}, w) }(), "element 15 is -0.5"},
		{"all zero", npy.FromInt64([]int{V}, make([]int64, V)), "every element is 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_")+".npy")
			if err := npy.WriteFile(path, tt.a); err != nil {
				t.Fatal(err)
			}
			_, _, err := learnWeighted(t, table, path, "bad")
			if err == nil || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("error %v, want one line naming %s and saying %q", err, path, tt.want)
			}
		})
	}
}
