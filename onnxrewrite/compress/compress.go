// Package compress joins the steps of shrinking a model: find its embedding
// tables, weight each row by how often calibration inputs read it, learn
// codes (package learner) and rewrite the tables (package onnxrewrite),
// reusing codes learned before for the same table and settings. It is the
// top of the library: the CLI calls it; nothing in the library imports it.
package compress

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Defaults of Options.
const (
	DefaultRatio         = 20
	DefaultK             = 16
	DefaultMinTableBytes = 64 << 10
	// DefaultFloor is the share of the total row weight spread evenly over
	// all rows when calibration counts are given, so that rows no
	// calibration input read still get codes of some quality.
	DefaultFloor = 0.05
)

// DefaultOptions are the settings compress uses when no flag says
// otherwise: DefaultRatio, DefaultFloor, DefaultMinTableBytes.
func DefaultOptions() Options {
	return Options{Ratio: DefaultRatio, Floor: DefaultFloor, MinTableBytes: DefaultMinTableBytes}
}

// Options controls Compress. Its values are taken as they are (a zero
// Floor is no floor); DefaultOptions gives the defaults the CLI uses. A
// zero Ratio, which could mean nothing else, is DefaultRatio.
type Options struct {
	// Tables to compress; nil means every embedding table. Tables named
	// here are compressed even under MinTableBytes, and one that cannot be
	// (quantized, or codes that would not be smaller) is an error, not a
	// table left alone.
	Tables []string
	// M and K set the codes; 0 and 0 choose them from Ratio and the table's
	// shape (K = 16, the largest even M that reaches the ratio).
	M, K int
	// Ratio is the size the table should shrink by at least when M and K
	// are not given.
	Ratio float64
	// Method, Seed and Threads go to the learner, and so do TargetError
	// (stop once the weighted error reaches it) and TimeLimit (the best
	// codes found within it); 0 means none.
	Method      string
	Seed        int64
	Threads     int
	TargetError float64
	TimeLimit   time.Duration
	// Iterations, Restarts, Perturb and Anneal set the aq learner's search
	// (learner.Config's fields of those names); 0 means the learner's
	// default for the table's size.
	Iterations, Restarts, Perturb int
	Anneal                        float64
	// Metric is "auto" (or ""): learn in the readout metric when the model
	// reads the table's rows through a linear map (onnxrewrite.FindReadout),
	// so that codes are spent on the directions the model uses; else,
	// when the model reads the rows through a normalization or the table is
	// tied (onnxrewrite.RelativeReason), relative error: row weights divided
	// by each row's squared norm (RelativeWeights); or "euclidean": plain
	// squared error with the count weights alone.
	Metric string
	// Layout, NoPack and NoBag go to the rewrite.
	Layout onnxrewrite.Layout
	NoPack bool
	NoBag  bool
	// Counts are how often calibration inputs read each row, per table
	// (see calibrate.RowCounts); tables without counts weight rows alike.
	Counts map[string][]int64
	// Floor is the share of the weight given evenly to all rows when counts
	// are given, in [0, 1] (DefaultFloor in DefaultOptions).
	Floor float64
	// CodesDir, when set, keeps learned codes and codebooks, and reuses
	// them when the table's values and every setting are the same.
	CodesDir string
	// MinTableBytes: smaller tables are left alone; 0: none
	// (DefaultMinTableBytes in DefaultOptions).
	MinTableBytes int64
	// Candidates, with Score, is how many sets of codes to learn per table
	// (seeds Seed, Seed+1, ...); the set whose rewritten model Score rates
	// lowest is kept. 0 or 1: one set, Score unused.
	Candidates int
	// Score rates a model, a copy of the one being compressed with one
	// candidate's codes in: how far its outputs are from the original's on
	// inputs the row weights did not count (validate.Divergence, say).
	Score func(*model.Model) (float64, error)
	// CodebookDType stores codebooks as "float32", "float16", "bfloat16",
	// or "auto" (and ""): see CodebookAuto. M and K chosen from Ratio
	// count the codebook in the type it is stored in.
	CodebookDType string
	// BeforeLearn, when set, runs once the model and its tables passed
	// Compress's own checks and before any learning: for checks that cost
	// more (loading the model in ONNX Runtime, say) and whose errors say
	// less.
	BeforeLearn func() error
	// CheckOutput, when set, is given Preview's model of the output's form
	// after BeforeLearn and before any learning, to save and check as the
	// output will be checked.
	CheckOutput func(preview *model.Model) error
	// Progress, when set, hears of each step.
	Progress func(Event)
	// Given are codes already learned for tables, by name (for a table
	// that another file of the same model holds too, package multi): such
	// a table is rewritten with them, not learned again.
	Given map[string]Learned
	// Learned, when set, is given each table's codes once learned (or
	// read from CodesDir), before the rewrite.
	Learned func(table string, l Learned)
}

// Learned are a table's codes and codebook, as the rewrite takes them,
// and the type the codebook is stored in.
type Learned struct {
	Codes         codes.Codes
	Codebook      codes.Codebook
	CodebookDType string
	// Metric and Seed are the learning's, for the report.
	Metric string
	Seed   int64
}

// Event is a step of the work, for a progress display.
type Event struct {
	Table string
	// Phase is "read", "weights", "learn", "cached", "given" (codes from
	// Options.Given), "candidate", "rewrite", "skip".
	Phase string
	// Candidate is the scored candidate in the "candidate" phase.
	Candidate *Candidate
	// Learn carries the learner's own progress in the "learn" phase.
	Learn *learner.Progress
}

// TableReport is what happened to one table.
type TableReport struct {
	Name  string   `json:"name"`
	Shape [2]int64 `json:"shape"`
	DType string   `json:"dtype"`
	// Skipped says why the table was left alone; empty when compressed.
	Skipped string `json:"skipped,omitempty"`
	M       int    `json:"m,omitempty"`
	K       int    `json:"k,omitempty"`
	Method  string `json:"method,omitempty"`
	// Seed is the learner's seed of the codes kept.
	Seed int64 `json:"seed"`
	// Candidates are the codes tried when choosing by output.
	Candidates []Candidate `json:"candidates,omitempty"`
	// Calibrated says row weights came from calibration counts;
	// RowsRead is how many rows the calibration inputs read.
	Calibrated bool `json:"calibrated"`
	RowsRead   int  `json:"rows_read,omitempty"`
	// Cached says the codes came from CodesDir.
	Cached bool `json:"cached"`
	// Given says the codes came from Options.Given: learned for the same
	// table in another file.
	Given bool `json:"given,omitempty"`
	// Stopped says why learning stopped ("completed 128 rounds", "target
	// error 0.1 reached", "time limit 30s"); empty for cached codes.
	Stopped      string  `json:"stopped,omitempty"`
	LearnSeconds float64 `json:"learn_seconds"`
	// Metric describes the readout the codes were learned in, or says why
	// plain squared error was used.
	Metric string `json:"metric"`
	// Relative says the row weights were divided by the rows' squared
	// norms (see Options.Metric).
	Relative bool `json:"relative,omitempty"`
	// CodebookDType is the type the codebook is stored in, and
	// CodebookReason why (with auto) and what rounding did to the error.
	CodebookDType  string `json:"codebook_dtype,omitempty"`
	CodebookReason string `json:"codebook_reason,omitempty"`
	// MetricRelSqErr is the row-weighted relative error in the readout
	// metric, what the model sees; absent with plain squared error.
	MetricRelSqErr *float64 `json:"metric_rel_sq_err,omitempty"`
	// RelSqErr is sum ||y-x||^2 / sum ||x||^2 over all rows; Weighted is
	// the same with the row weights; MeanDist the mean Euclidean distance.
	// In a readout metric these Euclidean figures are larger: directions
	// the model ignores are left free.
	RelSqErr         float64                    `json:"rel_sq_err"`
	WeightedRelSqErr float64                    `json:"weighted_rel_sq_err"`
	MeanDist         float64                    `json:"mean_dist"`
	Rewrite          *onnxrewrite.RewriteReport `json:"rewrite,omitempty"`
}

// Report is what Compress did.
type Report struct {
	Tables []TableReport `json:"tables"`
}

// Compress shrinks m's tables in memory; the caller saves m.
func Compress(ctx context.Context, m *model.Model, opts Options) (*Report, error) {
	if opts.Ratio == 0 {
		opts.Ratio = DefaultRatio
	}
	if (opts.M == 0) != (opts.K == 0) {
		return nil, fmt.Errorf("give both M and K, or neither (M=%d, K=%d)", opts.M, opts.K)
	}
	if opts.Ratio <= 1 && opts.M == 0 {
		return nil, fmt.Errorf("ratio %g: must be above 1", opts.Ratio)
	}
	if !(opts.Floor >= 0 && opts.Floor <= 1) { // NaN too
		return nil, fmt.Errorf("floor %g: must be in [0, 1]", opts.Floor)
	}
	if opts.MinTableBytes < 0 {
		return nil, fmt.Errorf("minimum table bytes %d: must be 0 (none) or more", opts.MinTableBytes)
	}
	switch opts.Metric {
	case "", "auto", "euclidean":
	default:
		return nil, fmt.Errorf("metric %q: want auto or euclidean", opts.Metric)
	}
	switch opts.Layout {
	case "", onnxrewrite.LayoutAuto, onnxrewrite.LayoutLookup, onnxrewrite.LayoutDecode:
	default:
		return nil, fmt.Errorf("layout %q: want lookup, decode or auto", opts.Layout)
	}
	progress := opts.Progress
	if progress == nil {
		progress = func(Event) {}
	}
	// A broken graph, or one the rewrite cannot write, fails now, not
	// after minutes of learning.
	if op := m.Opset(); op < onnxrewrite.MinOpset || op > onnxrewrite.MaxOpset {
		return nil, fmt.Errorf("%s: default opset %d is not supported (%d to %d)", m.Path, op, onnxrewrite.MinOpset, onnxrewrite.MaxOpset)
	}
	if err := model.CheckDataflow(m); err != nil {
		return nil, err
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	names := uniqueNames(opts.Tables)
	if names == nil {
		for _, t := range inv.Tables {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no embedding table (a rank-2 float initializer read by a Gather along axis 0): %w", m.Path, onnxrewrite.ErrNotFound)
	}
	rep, err := compressAll(ctx, m, inv, names, opts, progress)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(rep.Tables, func(t TableReport) bool { return t.Skipped == "" }) {
		// The model is unchanged: a copy saved under a new name would pass
		// for a result.
		var why []string
		for _, t := range rep.Tables {
			why = append(why, fmt.Sprintf("%s: %s", t.Name, t.Skipped))
		}
		return rep, fmt.Errorf("%s: %w, every table was left alone (%s)", m.Path, ErrNothingCompressed, strings.Join(why, "; "))
	}
	return rep, nil
}

// ErrNothingCompressed is wrapped by Compress's error when every table was
// left alone; the report says why each was.
var ErrNothingCompressed = errors.New("nothing to compress")

// Weights turns row read counts into learner weights: each row's share of
// the reads, times 1-floor, plus floor spread evenly over all rows. It also
// returns how many rows were read at all.
func Weights(counts []int64, floor float64) ([]float32, int, error) {
	var total float64
	read := 0
	for i, c := range counts {
		if c < 0 {
			return nil, 0, fmt.Errorf("row %d read %d times", i, c)
		}
		if c > 0 {
			read++
		}
		total += float64(c)
	}
	if total == 0 {
		return nil, 0, errors.New("the calibration inputs read no row of this table")
	}
	if floor < 0 {
		floor = 0
	}
	n := float64(len(counts))
	w := make([]float32, len(counts))
	for i, c := range counts {
		// Scaled so that the mean weight is 1.
		w[i] = float32(n * ((1-floor)*float64(c)/total + floor/n))
	}
	return w, read, nil
}

// ChooseMK picks codes for a [v, d] table of es-byte values: K = 16 and the
// largest even M whose codes and codebook are at least ratio times smaller
// than the table. M is 0 when none is.
func ChooseMK(v, d, es int, ratio float64, noPack bool) (int, int) {
	return ChooseMKStored(int64(v*d*es), v, d, es, ratio, noPack)
}

// ChooseMKStored is ChooseMK for a table of tableBytes (values, and scales
// and zero points of a quantized one) whose codebook takes bookES bytes a
// value.
func ChooseMKStored(tableBytes int64, v, d, bookES int, ratio float64, noPack bool) (int, int) {
	budget := float64(tableBytes) / ratio
	best := 0
	for m := 2; m <= 256; m += 2 {
		if float64(codedBytes(v, d, bookES, m, DefaultK, noPack)) <= budget {
			best = m
		}
	}
	return best, DefaultK
}

// codedBytes is what codes and codebook take in the rewritten model.
func codedBytes(v, d, es, m, k int, noPack bool) int64 {
	perByte := onnxrewrite.CodesPerByte(k)
	if noPack {
		perByte = 1
	}
	codeBytes := int64(v) * int64((m+perByte-1)/perByte)
	if k > 256 {
		codeBytes = int64(v) * int64(m) * 2
	}
	return codeBytes + int64(m*k*d*es)
}
