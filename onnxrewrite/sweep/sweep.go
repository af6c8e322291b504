// Package sweep compresses one model at many settings and measures each
// against the original: compositional codes at several M and K (learned
// through the codes cache, so that a second sweep, or a later compress of
// the same setting, is instant) and the reference quantisations of
// onnxrewrite.QuantizeTable (float16, int8 per row, 4-bit blocked). Every
// variant is written to a work folder and validated in ONNX Runtime on the
// same held-out inputs with the same gate as `embshrink validate`; the
// recommendation is the smallest code setting that passes.
package sweep

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// Setting is one code setting.
type Setting struct{ M, K int }

func (s Setting) String() string { return fmt.Sprintf("%dx%d", s.M, s.K) }

// Options controls Run.
type Options struct {
	// Table is the table to compress; "" means the largest.
	Table string
	// Settings are the code settings; nil means DefaultGrid of the table.
	Settings []Setting
	// References are the reference schemes; nil means all
	// (onnxrewrite.Schemes), an empty non-nil slice none.
	References []onnxrewrite.QuantScheme
	// Compress holds the learner and rewrite settings (Method, Seed,
	// Threads, Metric, Floor, Counts, CodesDir, Layout, ...); Tables, M and
	// K are set per setting.
	Compress compress.Options
	// Compare is the gate and the held-out inputs (Compare.Inputs).
	Compare validate.CompareOptions
	// WorkDir receives the variant models; it must exist.
	WorkDir string
	// Measure, when set, measures a model's latency and run-time memory
	// (in a process of its own, see Measurement); each code setting is
	// then also written in the lookup and the decode layout.
	Measure func(ctx context.Context, path string) (*Measurement, error)
	// Progress, when set, hears of each step.
	Progress func(Event)
	// Version is the tool's version, recorded in each code variant's
	// provenance as compress records it.
	Version string
}

// Event is a step of the sweep.
type Event struct {
	// Index counts the settings done before this one, of Total.
	Index, Total int
	Label        string
	// Phase is "start", "cached", "learn", "validate", "measure", "skip"
	// or "done".
	Phase string
	// Learn carries the learner's progress in the "learn" phase.
	Learn *compress.Event
	// Point is the finished point in the "done" phase; Note the reason in
	// "skip".
	Point *Point
	Note  string
}

// Measurement is one model's run-time cost, measured in a process of its
// own: it loads ONNX Runtime, then the model, and runs it on the held-out
// inputs.
type Measurement struct {
	// SecondsPerRun is the median time of one run on the held-out batch.
	SecondsPerRun float64 `json:"seconds_per_run"`
	// PeakRSS is the process's peak resident set (VmHWM); RSSGrowth is
	// PeakRSS minus the peak before the session was created.
	PeakRSS   int64 `json:"peak_rss"`
	RSSGrowth int64 `json:"rss_growth"`
}

// LayoutCost is a variant's cost relative to the original.
type LayoutCost struct {
	Layout string `json:"layout"`
	Path   string `json:"path"`
	Bytes  int64  `json:"bytes"`
	Measurement
	// LatencyRatio is SecondsPerRun over the original's; RSSvsOriginal
	// RSSGrowth minus the original's (negative: less memory).
	LatencyRatio  float64 `json:"latency_ratio"`
	RSSvsOriginal int64   `json:"rss_vs_original"`
}

// Point is one measured variant.
type Point struct {
	Label string `json:"label"`
	// Kind is "codes" or "reference".
	Kind   string                  `json:"kind"`
	M      int                     `json:"m,omitempty"`
	K      int                     `json:"k,omitempty"`
	Scheme onnxrewrite.QuantScheme `json:"scheme,omitempty"`
	Path   string                  `json:"path"`
	// Bytes is the variant's files (graph + data); Ratio the original's
	// bytes over them.
	Bytes int64   `json:"bytes"`
	Ratio float64 `json:"ratio"`
	// TableRelSqErr is the table's relative squared error (all rows alike);
	// WeightedRelSqErr weighs rows by calibration reads; ReadoutRelSqErr
	// is the error in the readout metric, where one applies.
	TableRelSqErr    float64  `json:"table_rel_sq_err"`
	WeightedRelSqErr *float64 `json:"weighted_rel_sq_err,omitempty"`
	ReadoutRelSqErr  *float64 `json:"readout_rel_sq_err,omitempty"`
	Form             string   `json:"form"`
	Cached           bool     `json:"cached,omitempty"`
	LearnSeconds     float64  `json:"learn_seconds,omitempty"`
	// Compare is the validation against the original; Pass its verdict;
	// Fidelity the worst decision agreement over classifier-like outputs
	// (or the worst cosine when there is none).
	Compare  *validate.CompareReport `json:"compare"`
	Pass     bool                    `json:"pass"`
	Fidelity float64                 `json:"fidelity"`
	Lookup   *LayoutCost             `json:"lookup,omitempty"`
	Decode   *LayoutCost             `json:"decode,omitempty"`
}

// Skip is a setting that was not measured, and why.
type Skip struct {
	Label string `json:"label"`
	Note  string `json:"note"`
}

// Result is what Run found.
type Result struct {
	Model         string       `json:"model"`
	OriginalBytes int64        `json:"original_bytes"`
	Table         string       `json:"table"`
	TableShape    [2]int64     `json:"table_shape"`
	TableDType    string       `json:"table_dtype"`
	TableBytes    int64        `json:"table_bytes"`
	Original      *Measurement `json:"original_cost,omitempty"`
	// FidelityName says what Point.Fidelity is.
	FidelityName string  `json:"fidelity_name"`
	Points       []Point `json:"points"`
	Skipped      []Skip  `json:"skipped,omitempty"`
	// Recommended indexes the smallest code point that passes; -1 if none.
	Recommended int `json:"recommended"`
}

// Run sweeps the model at path.
func Run(ctx context.Context, rt *ort.Runtime, path string, opts Options) (*Result, error) {
	if opts.WorkDir == "" {
		return nil, errors.New("sweep: no work folder")
	}
	if st, err := os.Stat(opts.WorkDir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("sweep: work folder %s: not a folder", opts.WorkDir)
	}
	m, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	tb, err := inv.Table(opts.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := tb.Rewritable(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	res := &Result{Model: path, Table: tb.Name, TableShape: tb.Shape, TableDType: tb.DType, TableBytes: tb.Bytes, Recommended: -1}
	if res.OriginalBytes, err = model.FilesBytes(path); err != nil {
		return nil, err
	}
	if opts.Settings == nil {
		opts.Settings = DefaultGrid(tb.Shape[0], tb.Shape[1], tb.Bytes)
	}
	if opts.References == nil {
		opts.References = onnxrewrite.Schemes
	}
	opts.Table = tb.Name
	s := &sweeper{rt: rt, path: path, opts: opts, res: res, total: len(opts.Settings) + len(opts.References)}
	if err := s.measureOriginal(ctx); err != nil {
		return nil, err
	}
	for _, st := range opts.Settings {
		if err := s.codes(ctx, st, tb); err != nil {
			return nil, err
		}
	}
	for _, sc := range opts.References {
		if err := s.reference(ctx, sc); err != nil {
			return nil, err
		}
	}
	res.FidelityName = fidelityName(res.Points)
	res.Recommended = recommend(res.Points)
	return res, nil
}

// recommend picks the smallest code point that passes.
func recommend(points []Point) int {
	best := -1
	for i, p := range points {
		if p.Kind == "codes" && p.Pass && (best < 0 || p.Bytes < points[best].Bytes) {
			best = i
		}
	}
	return best
}
