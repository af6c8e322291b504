package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
)

// TestRewriteLayouts runs rewrite over fixtures whose embedding rows a
// ReduceMean pools, in each layout, and checks what the summary says of
// the bag form. The written files pass validate.CheckGraph or the command
// fails; opset18 declares value_info for the table and the rows, which the
// lookup removes.
func TestRewriteLayouts(t *testing.T) {
	dir := t.TempDir()
	byName := map[string]fixtures.Fixture{}
	for _, f := range fixtures.All() {
		byName[f.Name] = f
	}
	const rows, groups, k, d = 300, 4, 16, 16
	codes := make([]uint8, rows*groups)
	for i := range codes {
		codes[i] = uint8(i * 7 % k)
	}
	book := make([]float32, groups*k*d)
	for i := range book {
		book[i] = float32(i%11) / 10
	}
	cp, bp := filepath.Join(dir, "codes.npy"), filepath.Join(dir, "book.npy")
	if err := npy.WriteFile(cp, npy.FromUint8([]int{rows, groups}, codes)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(bp, npy.FromFloat32([]int{groups * k, d}, book)); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		fixture string
		flags   []string
		want    []string
	}{
		{"opset18", []string{"--layout", "lookup"}, []string{"emb: lookup layout, 1 Gather(s) (1 with their pooling as bags: code counts x codebook): asked for"}},
		{"opset18", []string{"--layout", "lookup", "--no-bag"}, []string{"emb: lookup layout, 1 Gather(s): asked for", "ReduceMean pools the rows of embed: bag form turned off"}},
		{"opset18", []string{"--layout", "decode"}, []string{"emb: decode layout, 1 Gather(s): asked for"}},
		{"opset13", []string{"--layout", "lookup"}, []string{"emb: lookup layout, 1 Gather(s): asked for",
			"ReduceMean pools the rows of embed: per-token lookup, the bag form needs ScatterElements with reduction (opset 16; the model has 13)"}},
		{"bag_float16", []string{"--layout", "lookup"}, []string{"per-token lookup, the bag form is for float32 and float64 tables (this one is float16)"}},
	} {
		name := tc.fixture + strings.Join(tc.flags, "")
		t.Run(name, func(t *testing.T) {
			f, ok := byName[tc.fixture]
			if !ok {
				t.Fatalf("no fixture %s", tc.fixture)
			}
			if err := fixtures.Write(dir, f); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "small.onnx")
			args := append([]string{"rewrite", filepath.Join(dir, f.FileName()), "--codes", cp, "--codebook", bp, "-o", out}, tc.flags...)
			code, stdout, errOut := runCLI(args...)
			if code != exitOK {
				t.Fatalf("exit %d: %s", code, errOut)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout, w) {
					t.Errorf("stdout lacks %q:\n%s", w, stdout)
				}
			}
		})
	}
}
