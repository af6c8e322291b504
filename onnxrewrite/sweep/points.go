package sweep

import (
	"context"
	"fmt"
	"math"
	"path/filepath"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// sweeper holds one Run's state.
type sweeper struct {
	rt    *ort.Runtime
	path  string
	opts  Options
	res   *Result
	total int
	done  int
}

func (s *sweeper) event(ev Event) {
	if s.opts.Progress != nil {
		ev.Index, ev.Total = s.done, s.total
		s.opts.Progress(ev)
	}
}

func (s *sweeper) measureOriginal(ctx context.Context) error {
	if s.opts.Measure == nil {
		return nil
	}
	s.event(Event{Label: "original", Phase: "measure"})
	ms, err := s.opts.Measure(ctx, s.path)
	if err != nil {
		return fmt.Errorf("measuring %s: %w", s.path, err)
	}
	s.res.Original = ms
	return nil
}

// codes measures one code setting, or records why it was skipped.
func (s *sweeper) codes(ctx context.Context, st Setting, tb *onnxrewrite.Table) error {
	label := st.String()
	s.event(Event{Label: label, Phase: "start"})
	defer func() { s.done++ }()
	if note := cannotShrink(st, tb, s.opts.Compress.NoPack); note != "" {
		s.res.Skipped = append(s.res.Skipped, Skip{Label: label, Note: note})
		s.event(Event{Label: label, Phase: "skip", Note: note})
		return nil
	}
	p := Point{Label: label, Kind: "codes", M: st.M, K: st.K}
	tr, path, err := s.compressed(ctx, st, s.opts.Compress.Layout, label)
	if err != nil {
		return err
	}
	p.Path, p.TableRelSqErr, p.ReadoutRelSqErr, p.Cached, p.LearnSeconds = path, tr.RelSqErr, tr.MetricRelSqErr, tr.Cached, tr.LearnSeconds
	if tr.Calibrated {
		w := tr.WeightedRelSqErr
		p.WeightedRelSqErr = &w
	}
	p.Form = fmt.Sprintf("codes, %s layout", tr.Rewrite.Layout)
	if err := s.validate(ctx, &p); err != nil {
		return err
	}
	if s.opts.Measure != nil {
		for _, l := range []onnxrewrite.Layout{onnxrewrite.LayoutLookup, onnxrewrite.LayoutDecode} {
			cost, err := s.layoutCost(ctx, st, l, label)
			if err != nil {
				return err
			}
			if l == onnxrewrite.LayoutLookup {
				p.Lookup = cost
			} else {
				p.Decode = cost
			}
		}
	}
	s.finish(p)
	return nil
}

// cannotShrink says why codes at st would not be smaller than the table.
func cannotShrink(st Setting, tb *onnxrewrite.Table, noPack bool) string {
	if st.M < 1 || st.K < 2 || st.K > 65536 {
		return fmt.Sprintf("M=%d K=%d: want M >= 1 and K in 2..65536", st.M, st.K)
	}
	if after := CodedBytes(tb.Shape[0], tb.Shape[1], tb.Bytes, st, noPack); after >= tb.Bytes {
		return fmt.Sprintf("codes and codebook (%d bytes) would not be smaller than the table (%d bytes)", after, tb.Bytes)
	}
	return ""
}

// compressed learns (or reads from the cache) and rewrites the model at st
// in a layout, and saves it in the work folder.
func (s *sweeper) compressed(ctx context.Context, st Setting, layout onnxrewrite.Layout, label string) (*compress.TableReport, string, error) {
	m, err := model.Load(s.path)
	if err != nil {
		return nil, "", err
	}
	co := s.opts.Compress
	co.Tables, co.M, co.K, co.Layout = []string{s.opts.Table}, st.M, st.K, layout
	co.Progress = func(ev compress.Event) {
		switch ev.Phase {
		case "cached", "learn":
			s.event(Event{Label: label, Phase: ev.Phase, Learn: &ev})
		}
	}
	rep, err := compress.Compress(ctx, m, co)
	if err != nil {
		return nil, "", err
	}
	tr := &rep.Tables[0]
	if tr.Rewrite == nil {
		return nil, "", fmt.Errorf("%s: %s: table %q left alone: %s", s.path, label, tr.Name, tr.Skipped)
	}
	// As compress records it, so that the bytes are those compress writes.
	if err := compress.RecordProvenance(m, s.path, s.opts.Version, rep, co); err != nil {
		return nil, "", err
	}
	name := fmt.Sprintf("codes-%s", label)
	if layout != "" && layout != onnxrewrite.LayoutAuto {
		name += "-" + string(layout)
	}
	out, err := s.save(ctx, m, name)
	return tr, out, err
}

func (s *sweeper) save(ctx context.Context, m *model.Model, name string) (string, error) {
	out := filepath.Join(s.opts.WorkDir, name+".onnx")
	if err := m.SaveContext(ctx, out, model.SaveOptions{}); err != nil {
		return "", err
	}
	return out, nil
}

// layoutCost writes the setting in one layout (codes from the cache) and
// measures it.
func (s *sweeper) layoutCost(ctx context.Context, st Setting, layout onnxrewrite.Layout, label string) (*LayoutCost, error) {
	_, path, err := s.compressed(ctx, st, layout, label)
	if err != nil {
		return nil, err
	}
	return s.cost(ctx, path, string(layout), label)
}

func (s *sweeper) cost(ctx context.Context, path, layout, label string) (*LayoutCost, error) {
	s.event(Event{Label: label, Phase: "measure"})
	ms, err := s.opts.Measure(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("measuring %s: %w", path, err)
	}
	c := &LayoutCost{Layout: layout, Path: path, Measurement: *ms}
	c.Bytes, _ = model.FilesBytes(path)
	if o := s.res.Original; o != nil {
		if o.SecondsPerRun > 0 {
			c.LatencyRatio = ms.SecondsPerRun / o.SecondsPerRun
		}
		c.RSSvsOriginal = ms.RSSGrowth - o.RSSGrowth
	}
	return c, nil
}

// reference measures one reference quantisation.
func (s *sweeper) reference(ctx context.Context, sc onnxrewrite.QuantScheme) error {
	label := string(sc)
	s.event(Event{Label: label, Phase: "start"})
	defer func() { s.done++ }()
	m, err := model.Load(s.path)
	if err != nil {
		return err
	}
	qr, err := onnxrewrite.QuantizeTable(m, s.opts.Table, sc)
	if err != nil {
		s.res.Skipped = append(s.res.Skipped, Skip{Label: label, Note: err.Error()})
		s.event(Event{Label: label, Phase: "skip", Note: err.Error()})
		return nil
	}
	path, err := s.save(ctx, m, "reference-"+label)
	if err != nil {
		return err
	}
	p := Point{Label: label, Kind: "reference", Scheme: sc, Path: path, TableRelSqErr: qr.RelSqErr, Form: qr.Form}
	if err := s.validate(ctx, &p); err != nil {
		return err
	}
	if s.opts.Measure != nil {
		// The table is dequantized once at load, as the decode layout.
		if p.Decode, err = s.cost(ctx, path, "dequantize", label); err != nil {
			return err
		}
	}
	s.finish(p)
	return nil
}

// validate sizes the point and compares it with the original.
func (s *sweeper) validate(ctx context.Context, p *Point) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var err error
	if p.Bytes, err = model.FilesBytes(p.Path); err != nil {
		return err
	}
	p.Ratio = float64(s.res.OriginalBytes) / float64(max(p.Bytes, 1))
	s.event(Event{Label: p.Label, Phase: "validate"})
	rep, err := validate.CompareModels(s.rt, s.path, p.Path, s.opts.Compare)
	if err != nil {
		return err
	}
	p.Compare, p.Pass, p.Fidelity = rep, rep.Pass, fidelity(rep)
	return nil
}

func (s *sweeper) finish(p Point) {
	s.res.Points = append(s.res.Points, p)
	s.event(Event{Label: p.Label, Phase: "done", Point: &s.res.Points[len(s.res.Points)-1]})
}

// fidelity is the worst decision agreement over classifier-like outputs,
// else the worst cosine.
func fidelity(rep *validate.CompareReport) float64 {
	agree, cos := math.Inf(1), math.Inf(1)
	for _, o := range rep.Outputs {
		if o.Agreement != nil {
			agree = min(agree, *o.Agreement)
		}
		cos = min(cos, o.Cosine)
	}
	switch {
	case !math.IsInf(agree, 1):
		return agree
	case !math.IsInf(cos, 1):
		return cos
	}
	return math.NaN()
}

func fidelityName(points []Point) string {
	for _, p := range points {
		for _, o := range p.Compare.Outputs {
			if o.Agreement != nil {
				return "decision agreement"
			}
		}
	}
	return "cosine"
}
