//go:build cgo

// This test runs ONNX Runtime, which needs cgo.

package onnxrewrite_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// TestZooCacheORT checks the zoo's cache forms against the no-cache form
// in ONNX Runtime, as exported and with every float table rewritten with
// the same codes in the decode layout (a table read inside both branches
// of the merged model's If): the merged model's no-past branch on the
// first 8 of 12 ids gives the no-cache model's logits for them, and fed
// its present.* as the past, the merged model's cache branch and the
// with_past model give the logits of the last 4. The rewritten models keep
// every input and output, names, types and dims.
func TestZooCacheORT(t *testing.T) {
	rt := rtkit.Runtime(t)
	root := testkit.RepoRoot(t)
	cases := []struct {
		name      string
		vocab     int64
		positions bool
	}{{"gpt2", 50257, false}, {"llama", 32000, true}}
	for _, c := range cases {
		for _, rewrite := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/rewritten=%v", c.name, rewrite), func(t *testing.T) {
				sess := map[string]*ort.Session{}
				for _, form := range []string{"", "_with_past", "_merged"} {
					sess[form] = fxSession(t, rt, cacheModel(t, fixtures.ZooPath(root, c.name+form), rewrite))
				}
				rng := rand.New(rand.NewPCG(7, 0))
				ids := make([]int64, 2*12)
				for i := range ids {
					ids[i] = rng.Int64N(c.vocab)
				}
				plain := cacheFeed(ids, c.positions, 0, 12, nil, nil)
				delete(plain, "attention_mask") // gpt2 and llama take none
				full := cacheRun(t, sess[""], plain)["logits"]
				prompt := cacheRun(t, sess["_merged"], cacheFeed(ids, c.positions, 0, 8, cacheEmpty(), []bool{false}))
				cacheNear(t, "no-past branch", prompt["logits"], full, 0, 8)
				past := map[string]ort.HostTensor{}
				for i, n := range fixtures.CacheNames("present", 2) {
					past[fixtures.CacheNames("past_key_values", 2)[i]] = prompt[n]
				}
				cacheNear(t, "merged, cache branch", cacheRun(t, sess["_merged"], cacheFeed(ids, c.positions, 8, 12, past, []bool{true}))["logits"], full, 8, 12)
				cacheNear(t, "with_past", cacheRun(t, sess["_with_past"], cacheFeed(ids, c.positions, 8, 12, past, nil))["logits"], full, 8, 12)
			})
		}
	}
}

// cacheModel returns path, or with rewrite a copy with every float table
// rewritten (decode layout, 4x16 codes seeded by the table's name, so each
// form gets the same codes) whose graph inputs and outputs are checked to
// be unchanged.
func cacheModel(t *testing.T, path string, rewrite bool) string {
	if !rewrite {
		return path
	}
	m := testkit.Load(t, path)
	before := cacheSignature(m)
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, tb := range inv.Tables {
		var seed uint64 = 1
		for _, ch := range tb.Name {
			seed = seed*31 + uint64(ch)
		}
		c, b := testkit.Codes(int(tb.Shape[0]), 4, 16, int(tb.Shape[1]), seed, 64)
		if _, err := onnxrewrite.RewriteTable(m, c, b, onnxrewrite.RewriteOptions{Table: tb.Name, Layout: onnxrewrite.LayoutDecode}); err != nil {
			t.Fatal(err)
		}
	}
	if after := cacheSignature(m); !slices.Equal(after, before) {
		t.Fatalf("%s: inputs and outputs changed by the rewrite:\n%q\nwant\n%q", path, after, before)
	}
	return rtkit.Save(t, m, "rewritten.onnx")
}

// cacheSignature lists the graph's inputs and outputs with types and dims.
func cacheSignature(m *model.Model) []string {
	var out []string
	g := m.Proto.Graph
	for _, v := range append(slices.Clone(g.Input), g.Output...) {
		out = append(out, v.Name+" "+v.GetType().String())
	}
	return out
}

// cacheFeed feeds ids [from, to) of both rows, a mask of ones over the
// past and them, positions from..to-1 (when the model takes them), the
// past cache (none: the model takes none) and use_cache_branch (nil: none).
func cacheFeed(ids []int64, positions bool, from, to int, past map[string]ort.HostTensor, useCache []bool) map[string]ort.HostTensor {
	n := int64(to - from)
	var in, pos []int64
	for r := range 2 {
		in = append(in, ids[r*12+from:r*12+to]...)
		for p := from; p < to; p++ {
			pos = append(pos, int64(p))
		}
	}
	mask := make([]int64, 2*to)
	for i := range mask {
		mask[i] = 1
	}
	feed := map[string]ort.HostTensor{
		"input_ids":      {Shape: []int64{2, n}, Data: in},
		"attention_mask": {Shape: []int64{2, int64(to)}, Data: mask},
	}
	if positions {
		feed["position_ids"] = ort.HostTensor{Shape: []int64{2, n}, Data: pos}
	}
	for k, v := range past {
		feed[k] = v
	}
	if useCache != nil {
		feed["use_cache_branch"] = ort.HostTensor{Shape: []int64{1}, Data: useCache}
	}
	return feed
}

// cacheEmpty is an empty past for the zoo decoders (2 layers, 2 heads of 8).
func cacheEmpty() map[string]ort.HostTensor {
	out := map[string]ort.HostTensor{}
	for _, n := range fixtures.CacheNames("past_key_values", 2) {
		out[n] = ort.HostTensor{Shape: []int64{2, 2, 0, 8}, Data: []float32{}}
	}
	return out
}

func cacheRun(t *testing.T, s *ort.Session, feed map[string]ort.HostTensor) map[string]ort.HostTensor {
	t.Helper()
	out, err := s.Run(feed)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cacheNear wants got [2, to-from, V] within 1e-4 of positions [from, to)
// of full [2, 12, V].
func cacheNear(t *testing.T, what string, got, full ort.HostTensor, from, to int) {
	t.Helper()
	g, f := got.Data.([]float32), full.Data.([]float32)
	v := int(full.Shape[2])
	if want := []int64{2, int64(to - from), int64(v)}; !slices.Equal(got.Shape, want) {
		t.Fatalf("%s: logits %v, want %v", what, got.Shape, want)
	}
	worst := 0.0
	for r := range 2 {
		for p := from; p < to; p++ {
			a := g[(r*(to-from)+p-from)*v : (r*(to-from)+p-from+1)*v]
			b := f[(r*12+p)*v : (r*12+p+1)*v]
			for i := range a {
				worst = math.Max(worst, math.Abs(float64(a[i]-b[i])))
			}
		}
	}
	if !(worst <= 1e-4) {
		t.Errorf("%s: logits of positions %d..%d differ from the no-cache model's by up to %g", what, from, to-1, worst)
	}
}
