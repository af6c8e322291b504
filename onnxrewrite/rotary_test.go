package onnxrewrite_test

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// computedTables maps each table of the model at path to its Computed.
func computedTables(t *testing.T, path string) map[string]string {
	t.Helper()
	inv, err := onnxrewrite.FindTables(testkit.Load(t, path))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, tb := range inv.Tables {
		out[tb.Name] = tb.Computed
	}
	return out
}

// Rotary cos/sin caches are told from learned tables by their values: the
// zoo's Llama export and a 4096-row cache are; the same cache with one
// value off by 0.01 in its last row, or scaled, is not.
func TestRotaryCaches(t *testing.T) {
	edit := func(name string, fn func(v []float32)) func(*onnxpb.ModelProto) {
		return func(mp *onnxpb.ModelProto) {
			for _, in := range mp.Graph.Initializer {
				if in.Name != name {
					continue
				}
				v := make([]float32, len(in.RawData)/4)
				for i := range v {
					v[i] = math.Float32frombits(binary.LittleEndian.Uint32(in.RawData[4*i:]))
				}
				fn(v)
				for i, x := range v {
					binary.LittleEndian.PutUint32(in.RawData[4*i:], math.Float32bits(x))
				}
			}
		}
	}
	cases := []struct {
		name string
		edit func(*onnxpb.ModelProto)
		want map[string]string
	}{
		{"4096x64", nil, map[string]string{"cos_cached": onnxrewrite.RotaryCos, "sin_cached": onnxrewrite.RotarySin, "emb": ""}},
		{"last row off", edit("cos_cached", func(v []float32) { v[len(v)-5] += 0.01 }), map[string]string{"cos_cached": "", "sin_cached": onnxrewrite.RotarySin}},
		{"scaled", edit("sin_cached", func(v []float32) {
			for i := range v {
				v[i] *= 1.1
			}
		}), map[string]string{"cos_cached": onnxrewrite.RotaryCos, "sin_cached": ""}},
		{"zeros", edit("sin_cached", func(v []float32) { clear(v) }), map[string]string{"sin_cached": ""}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := fixtures.RotaryCaches(4096, 64)
			if c.edit != nil {
				c.edit(f.Model)
			}
			got := computedTables(t, testkit.Write(t, f))
			for name, want := range c.want {
				if got[name] != want {
					t.Errorf("table %s: computed %q, want %q", name, got[name], want)
				}
			}
		})
	}
	for _, form := range []string{"llama", "llama_with_past", "llama_merged"} {
		llama := computedTables(t, fixtures.ZooPath(testkit.RepoRoot(t), form))
		if llama["cos_cached"] != onnxrewrite.RotaryCos || llama["sin_cached"] != onnxrewrite.RotarySin || llama["emb.weight"] != "" {
			t.Errorf("zoo %s: %q", form, llama)
		}
	}
}

// No other table of the fixtures or the zoo is taken for a computed one.
func TestNoOtherComputedTables(t *testing.T) {
	root := testkit.RepoRoot(t)
	var paths []string
	for _, f := range append(fixtures.Generated(), fixtures.InputRoles()...) {
		paths = append(paths, testkit.Write(t, f))
	}
	for _, z := range fixtures.Zoo() {
		if !strings.HasPrefix(z.Name, "llama") { // its rotary caches, above
			paths = append(paths, fixtures.ZooPath(root, z.Name))
		}
	}
	for _, p := range paths {
		for name, kind := range computedTables(t, p) {
			if kind != "" {
				t.Errorf("%s: table %s taken for a %s", filepath.Base(p), name, kind)
			}
		}
	}
}
