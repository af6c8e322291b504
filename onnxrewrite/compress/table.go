package compress

import (
	"context"
	"fmt"
	"math"

	"github.com/embshrink/embshrink/internal/freemem"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// compressTable learns codes for one table and rewrites it in m, or says
// in the report why it was left alone.
func compressTable(ctx context.Context, m *model.Model, tb *onnxrewrite.Table, opts Options, progress func(Event)) (*TableReport, error) {
	tr, err := planTable(m, tb, opts)
	if err != nil || tr.Skipped != "" {
		if err == nil {
			progress(Event{Table: tb.Name, Phase: "skip"})
		}
		return tr, err
	}
	progress(Event{Table: tb.Name, Phase: "read"})
	mat, err := onnxrewrite.ReadTable(m, tb)
	if err != nil {
		return nil, err
	}
	if mat.Exp != 0 && tr.CodebookDType != "" {
		return nil, fmt.Errorf("%s: table %q: its float64 values reach 2^%d, beyond %s's range: the codebook can only be stored as float64, the table's type (--codebook-dtype auto)",
			m.Path, tb.Name, mat.Exp, tr.CodebookDType)
	}
	weights, err := tableWeights(m, tb, opts, tr, progress)
	if err != nil {
		return nil, err
	}
	c, b, mat, err := tableCodes(ctx, m, tb, mat, weights, opts, tr, progress)
	if err != nil {
		return nil, err
	}
	met := learner.Measure(mat.Data, c.Rows, b.D, learner.Encoded{M: c.M, K: c.K, Codes: c.Data, Codebook: b.Data}, weights)
	tr.WeightedRelSqErr, tr.RelSqErr, tr.MeanDist = met.RelSqErr, met.RelSqErrUnweighted, math.Ldexp(met.MeanDist, mat.Exp)

	progress(Event{Table: tb.Name, Phase: "rewrite"})
	rw, err := onnxrewrite.RewriteTable(m, c, b,
		onnxrewrite.RewriteOptions{Table: tb.Name, Layout: opts.Layout, NoPack: opts.NoPack, NoBag: opts.NoBag, CodebookDType: tr.CodebookDType})
	if err != nil {
		return nil, err
	}
	tr.Rewrite = rw
	return tr, nil
}

// tableCodes learns the table's codes, or takes those Options.Given holds
// for it, and returns them with the table's values (read again when the
// learner let them go).
func tableCodes(ctx context.Context, m *model.Model, tb *onnxrewrite.Table, mat *model.Matrix, weights []float32, opts Options, tr *TableReport,
	progress func(Event)) (codes.Codes, codes.Codebook, *model.Matrix, error) {
	if g, ok := opts.Given[tb.Name]; ok {
		if g.Codes.Rows != mat.Rows || g.Codebook.D != mat.Cols {
			return g.Codes, g.Codebook, nil, fmt.Errorf("%s: table %q: given codes for %d rows of %d values, the table is [%d, %d]",
				m.Path, tb.Name, g.Codes.Rows, g.Codebook.D, mat.Rows, mat.Cols)
		}
		progress(Event{Table: tb.Name, Phase: "given"})
		tr.Given, tr.M, tr.K, tr.CodebookDType, tr.Metric, tr.Seed = true, g.Codes.M, g.Codes.K, g.CodebookDType, g.Metric, g.Seed
		return g.Codes, g.Codebook, mat, nil
	}
	pc, factor, err := tableMetric(m, tb, opts, tr)
	if err != nil {
		return codes.Codes{}, codes.Codebook{}, nil, err
	}
	weights = relativeWeights(m, tb, mat, weights, pc, opts, tr)
	c, b, err := learnOrSelect(ctx, m, tb, mat, weights, pc, factor, opts, tr, progress)
	if err != nil {
		return c, b, nil, err
	}
	if pc != nil {
		// The table was let go while the learner worked in the metric.
		if mat, err = onnxrewrite.ReadTable(m, tb); err != nil {
			return c, b, nil, err
		}
	}
	if opts.Learned != nil {
		opts.Learned(tb.Name, Learned{Codes: c, Codebook: b, CodebookDType: tr.CodebookDType, Metric: tr.Metric, Seed: tr.Seed})
	}
	return c, b, mat, nil
}

// planTable chooses M and K for a table, or why it is left alone: a table
// asked for by name is compressed under the size floor, and one that cannot
// be compressed is an error instead.
func planTable(m *model.Model, tb *onnxrewrite.Table, opts Options) (*TableReport, error) {
	v, d := int(tb.Shape[0]), int(tb.Shape[1])
	named := opts.Tables != nil
	tr := &TableReport{Name: tb.Name, Shape: tb.Shape, DType: tb.DType}
	if err := tb.Rewritable(); err != nil {
		if named {
			return nil, fmt.Errorf("%s: table %q was asked for but cannot be compressed: %w", m.Path, tb.Name, err)
		}
		tr.Skipped = err.Error()
		return tr, nil
	}
	if tb.Computed != "" && !named {
		// Its rows are a formula of the row index: codes would only add
		// error to what the model computes exactly.
		tr.Skipped = fmt.Sprintf("%s: computed, not learned (--table %s compresses it anyway)", tb.Computed, tb.Name)
		return tr, nil
	}
	book, es, err := codebookChoice(tb, opts.CodebookDType)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	tr.CodebookDType = book
	mm, k := opts.M, opts.K
	if mm == 0 {
		mm, k = ChooseMKStored(tb.Bytes, v, d, es, opts.Ratio, opts.NoPack)
		if mm == 0 {
			tr.Skipped = fmt.Sprintf("no M with K=%d makes codes and codebook %gx smaller than its %d bytes (lower the ratio, or give M and K)", DefaultK, opts.Ratio, tb.Bytes)
		}
	} else if after := codedBytes(v, d, es, mm, k, opts.NoPack); after >= tb.Bytes {
		tr.Skipped = fmt.Sprintf("codes and codebook at M=%d K=%d (%d bytes) would not be smaller than the table (%d bytes)", mm, k, after, tb.Bytes)
	}
	if tr.Skipped == "" && !named && opts.MinTableBytes > 0 && tb.Bytes < opts.MinTableBytes {
		tr.Skipped = fmt.Sprintf("%d bytes is under the %d-byte minimum worth compressing", tb.Bytes, opts.MinTableBytes)
	}
	if tr.Skipped != "" && named {
		return nil, fmt.Errorf("%s: table %q was asked for but cannot be compressed: %s", m.Path, tb.Name, tr.Skipped)
	}
	tr.M, tr.K, tr.Method, tr.Seed = mm, k, opts.Method, opts.Seed
	if tr.Method == "" {
		tr.Method = learner.MethodAQ
	}
	return tr, nil
}

// tableWeights turns the table's calibration counts, if any, into row
// weights.
func tableWeights(m *model.Model, tb *onnxrewrite.Table, opts Options, tr *TableReport, progress func(Event)) ([]float32, error) {
	counts, ok := opts.Counts[tb.Name]
	if !ok {
		return nil, nil
	}
	progress(Event{Table: tb.Name, Phase: "weights"})
	weights, read, err := Weights(counts, opts.Floor)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	tr.RowsRead, tr.Calibrated = read, true
	return weights, nil
}

// tableMetric finds the readout metric the codes are learned in, or says
// why plain squared error is used; factor is the readout's weight factor
// (nil without one), part of the cache key.
func tableMetric(m *model.Model, tb *onnxrewrite.Table, opts Options, tr *TableReport) (*precond, []float64, error) {
	if opts.Metric == "euclidean" {
		tr.Metric = "euclidean: asked for"
		return nil, nil, nil
	}
	ro, why, err := onnxrewrite.FindReadout(m, tb)
	if err != nil {
		return nil, nil, err
	}
	if ro == nil {
		tr.Metric = "euclidean: " + why
		return nil, nil, nil
	}
	pc, err := newPrecond(unitScale(ro.Factor), int(tb.Shape[1]), ro.Rank)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	tr.Metric = "readout: " + ro.String()
	return pc, ro.Factor, nil
}

// learnTable learns (or reads from the cache) codes for the table; with a
// readout metric the learner sees the rows mapped into it, and mat's data
// is let go meanwhile so that a large table is held twice, not three times.
func learnTable(ctx context.Context, m *model.Model, tb *onnxrewrite.Table, mat *model.Matrix, weights []float32, pc *precond, factor []float64,
	opts Options, tr *TableReport, progress func(Event)) (codes.Codes, codes.Codebook, error) {
	v, d := mat.Rows, mat.Cols
	cfg := learner.Config{M: tr.M, K: tr.K, Method: opts.Method, Seed: opts.Seed, Weights: weights, Threads: opts.Threads,
		TargetError: opts.TargetError, TimeLimit: opts.TimeLimit, ScaleInPlace: true, // data is compress's own
		ReencodeAfter: reencodes(tr.CodebookDType), // roundCodebook's pass
		Iterations:    opts.Iterations, Restarts: opts.Restarts, Perturb: opts.Perturb, Anneal: opts.Anneal,
		Progress: func(p learner.Progress) { progress(Event{Table: tb.Name, Phase: "learn", Learn: &p}) }}
	var key string
	if opts.CodesDir != "" {
		key = cacheKey(mat, factor, cfg)
	}
	data := mat.Data
	if pc != nil {
		data = pc.apply(mat.Data, false)
		mat.Data = nil
		freemem.IfLarge(len(data))
	}
	c, b, cached, err := learnCached(ctx, opts.CodesDir, tb.Name, key, v, d, data, cfg, progress, func(b []float32) []float32 {
		if pc == nil {
			return b
		}
		return pc.apply(b, true)
	})
	if err != nil {
		return c, b, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	// Learned (and cached) on the table in float32's range: mat.Data,
	// which is the table divided by 2^mat.Exp.
	b.Exp = mat.Exp
	tr.Cached, tr.LearnSeconds, tr.Stopped = cached.hit, cached.seconds, cached.stopped
	toLearn := func(b []float32) []float32 { return b }
	if pc != nil {
		toLearn = func(b []float32) []float32 { return pc.apply(b, false) }
	}
	auto := opts.CodebookDType == "" || opts.CodebookDType == CodebookAuto
	if c, b, err = roundCodebook(ctx, data, c, b, cfg, toLearn, tr.CodebookDType, auto, tr); err != nil {
		return c, b, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	if pc != nil {
		mr := learner.Measure(data, v, d, learner.Encoded{M: c.M, K: c.K, Codes: c.Data, Codebook: pc.apply(b.Data, false)}, weights).RelSqErr
		tr.MetricRelSqErr = &mr
		n := len(data)
		data = nil // free before the table is read again
		freemem.IfLarge(n)
	}
	return c, b, nil
}
