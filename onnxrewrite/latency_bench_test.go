//go:build cgo

// This test runs ONNX Runtime or the onnx-go check (package validate), which need cgo.

package onnxrewrite_test

import (
	"math/rand/v2"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// BenchmarkVibeLayoutLatency measures ONNX ort.Runtime inference latency of the
// vibe sentiment model (1 intra-op thread, a batch of 256 x 20 ids) for the
// original and each layout of a 16x16 rewrite. Runs are interleaved, one of
// each variant in turn, after a warm-up. It reports each variant's median
// time and the median over rounds of its time divided by the original's in
// the same round: on a shared machine the load changes between rounds more
// than within one, so per-round ratios are the steadier figure.
// -benchtime Nx sets the runs per variant (>= 30 for the figures).
//
// Two id batches: uniform random ids (every row about as likely, the
// dense table's worst case for caches) and the ids of 256 generated
// sentences (fixtures.VibeSentences: few distinct words, padding ids).
func BenchmarkVibeLayoutLatency(b *testing.B) {
	names, sessions, sizes := layoutSessions(b, "vibe-sentiment/sentiment_model.onnx", 15000, 64, []layoutVariant{
		{"original", nil},
		{"lookup", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}},
		{"lookup-tokens", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoBag: true}},
		{"lookup-tokens-f16book", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoBag: true, CodebookDType: onnxrewrite.CodebookFloat16}},
		{"lookup-nopack", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup, NoPack: true, NoBag: true}},
		{"decode", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutDecode}},
	})
	r := rand.New(rand.NewPCG(8, 8))
	random := make([]int64, 256*20)
	for i := range random {
		random[i] = r.Int64N(15000)
	}
	for _, batch := range []struct {
		name string
		ids  []int64
	}{{"random-ids", random}, {"sentences", fixtures.VibeIDs(fixtures.VibeSentences(11, 256))}} {
		in := map[string]ort.HostTensor{"input": {Shape: []int64{256, 20}, Data: batch.ids, Elem: onnxpb.TensorProto_INT64}}
		b.Run(batch.name, func(b *testing.B) { latencyRounds(b, sessions, names, sizes, in) })
	}
}

// BenchmarkStoriesLayoutLatency is the same for the tied llama2.c model
// in ../shared (a small transformer whose table is 12% of its weights), on
// 8 x 64 random token ids: the lookup's per-token cost against a model
// that does more than look rows up.
func BenchmarkStoriesLayoutLatency(b *testing.B) {
	names, sessions, sizes := layoutSessions(b, "stories260k/stories260K_tied.onnx", 512, 64, []layoutVariant{
		{"original", nil},
		{"lookup", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutLookup}},
		{"decode", &onnxrewrite.RewriteOptions{Layout: onnxrewrite.LayoutDecode}},
	})
	r := rand.New(rand.NewPCG(9, 9))
	ids := make([]int64, 8*64)
	for i := range ids {
		ids[i] = r.Int64N(512)
	}
	in := map[string]ort.HostTensor{"input_ids": {Shape: []int64{8, 64}, Data: ids, Elem: onnxpb.TensorProto_INT64}}
	latencyRounds(b, sessions, names, sizes, in)
}

// layoutVariant is a model to time: the original (nil options) or a
// rewrite with 16x16 random codes.
type layoutVariant struct {
	name string
	opts *onnxrewrite.RewriteOptions
}

// layoutSessions writes each variant of the model at ../shared/data/rel,
// whose table is [rows, dim], and opens a 1-thread session on it; all are
// closed with the benchmark.
func layoutSessions(b *testing.B, rel string, rows, dim int, variants []layoutVariant) ([]string, []*ort.Session, []int64) {
	src := testkit.SharedData(b, rel)
	rt, err := ort.OpenRuntime()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { rt.Close() }) // closes the sessions too
	r := rand.New(rand.NewPCG(7, 7))
	cs := codes.Codes{Rows: rows, M: 16, K: 16, Data: make([]uint16, rows*16)}
	for i := range cs.Data {
		cs.Data[i] = uint16(r.IntN(16))
	}
	book := codes.Codebook{M: 16, K: 16, D: dim, Data: make([]float32, 16*16*dim)}
	for i := range book.Data {
		book.Data[i] = float32(r.NormFloat64() * 0.1)
	}
	dir := b.TempDir()
	names := make([]string, len(variants))
	sessions := make([]*ort.Session, len(variants))
	sizes := make([]int64, len(variants))
	for i, v := range variants {
		names[i] = v.name
		path := src
		if v.opts != nil {
			m, err := model.Load(src)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := onnxrewrite.RewriteTable(m, cs, book, *v.opts); err != nil {
				b.Fatal(err)
			}
			path = filepath.Join(dir, v.name+".onnx")
			if err := m.Save(path, model.SaveOptions{}); err != nil {
				b.Fatal(err)
			}
		}
		sizes[i] = fxFilesSize(b, path)
		s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
		if err != nil {
			b.Fatal(err)
		}
		sessions[i] = s
	}
	return names, sessions, sizes
}

// latencyRounds runs each session once per round, after 5 warm-up rounds,
// and reports medians and per-round ratios to the first session. With
// -benchtime Nx Go first runs each sub-benchmark once with N = 1: the
// figures are those logged after the N-round run.
func latencyRounds(b *testing.B, sessions []*ort.Session, names []string, sizes []int64, in map[string]ort.HostTensor) {
	times := make([][]time.Duration, len(sessions))
	for warm := 0; warm < 5; warm++ {
		for _, s := range sessions {
			if _, err := s.Run(in); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		// Each round starts one variant later, so that every variant runs
		// after every other as often: a variant that writes large
		// intermediates evicts the caches of the one after it.
		for j := range sessions {
			i := (n + j) % len(sessions)
			start := time.Now()
			if _, err := sessions[i].Run(in); err != nil {
				b.Fatal(err)
			}
			times[i] = append(times[i], time.Since(start))
		}
	}
	b.StopTimer()
	med := func(d []time.Duration) time.Duration {
		d = append([]time.Duration(nil), d...)
		sort.Slice(d, func(a, b int) bool { return d[a] < d[b] })
		return d[len(d)/2]
	}
	base := med(times[0])
	b.ReportMetric(float64(base.Microseconds()), "original-us")
	for i, name := range names {
		ratios := make([]float64, len(times[i]))
		for r := range ratios {
			ratios[r] = float64(times[i][r]) / float64(times[0][r])
		}
		sort.Float64s(ratios)
		ratio := ratios[len(ratios)/2]
		if i > 0 {
			b.ReportMetric(ratio, name+"-x")
		}
		b.Logf("%-14s median %8.3f ms  median ratio %.2fx  files %9d bytes", name, float64(med(times[i]).Microseconds())/1000, ratio, sizes[i])
	}
}
