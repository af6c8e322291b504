package compress_test

import (
	"context"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
)

// Rotary cos/sin caches, over the size floor, are left out of the default
// tables with a note saying they are computed; named, one is compressed.
func TestCompressSkipsRotaryCaches(t *testing.T) {
	f := fixtures.RotaryCaches(4096, 64)
	m := loadFixture(t, f)
	rep, err := compress.Compress(context.Background(), m, compress.Options{M: 2, K: 4, Seed: 1, Iterations: 2,
		MinTableBytes: compress.DefaultMinTableBytes})
	if err != nil {
		t.Fatal(err)
	}
	skipped := map[string]string{}
	for _, tr := range rep.Tables {
		skipped[tr.Name] = tr.Skipped
	}
	for _, name := range []string{"cos_cached", "sin_cached"} {
		if !strings.Contains(skipped[name], "rotary") || !strings.Contains(skipped[name], "computed, not learned") {
			t.Errorf("%s: skipped %q, want a note that it is a computed rotary cache", name, skipped[name])
		}
	}
	if s, ok := skipped["emb"]; !ok || s != "" {
		t.Errorf("emb: skipped %q (listed %v), want it compressed", s, ok)
	}

	m = loadFixture(t, f)
	rep, err = compress.Compress(context.Background(), m, compress.Options{M: 2, K: 4, Seed: 1, Iterations: 2,
		MinTableBytes: compress.DefaultMinTableBytes, Tables: []string{"cos_cached"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Tables) != 1 || rep.Tables[0].Skipped != "" || rep.Tables[0].Rewrite == nil {
		t.Errorf("--table cos_cached: %+v, want it compressed", rep.Tables)
	}
}
