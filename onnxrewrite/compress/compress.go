// Package compress joins the steps of shrinking a model: find its embedding
// tables, weight each row by how often calibration inputs read it, learn
// codes (package learner) and rewrite the tables (package onnxrewrite),
// reusing codes learned before for the same table and settings.
package compress

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/internal/npy"
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

// Options controls Compress. The zero value compresses every table at
// DefaultRatio with the default learner.
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
	// Method, Seed and Threads go to the learner.
	Method  string
	Seed    int64
	Threads int
	// Metric is "auto" (or ""): learn in the readout metric when the model
	// reads the table's rows through a linear map (onnxrewrite.FindReadout),
	// so that codes are spent on the directions the model uses; or
	// "euclidean": plain squared error.
	Metric string
	// Layout, NoPack and NoBag go to the rewrite.
	Layout onnxrewrite.Layout
	NoPack bool
	NoBag  bool
	// Counts are how often calibration inputs read each row, per table
	// (see onnxrewrite.RowCounts); tables without counts weight rows alike.
	Counts map[string][]int64
	// Floor is the share of the weight given evenly to all rows when counts
	// are given; 0 means DefaultFloor, a negative value none.
	Floor float64
	// CodesDir, when set, keeps learned codes and codebooks, and reuses
	// them when the table's values and every setting are the same.
	CodesDir string
	// MinTableBytes: smaller tables are left alone; 0 means
	// DefaultMinTableBytes, a negative value none.
	MinTableBytes int64
	// Progress, when set, hears of each step.
	Progress func(Event)
}

// Event is a step of the work, for a progress display.
type Event struct {
	Table string
	// Phase is "read", "weights", "learn", "cached", "rewrite", "skip".
	Phase string
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
	// Calibrated says row weights came from calibration counts;
	// RowsRead is how many rows the calibration inputs read.
	Calibrated bool `json:"calibrated"`
	RowsRead   int  `json:"rows_read,omitempty"`
	// Cached says the codes came from CodesDir.
	Cached       bool    `json:"cached"`
	LearnSeconds float64 `json:"learn_seconds"`
	// Metric describes the readout the codes were learned in, or says why
	// plain squared error was used.
	Metric string `json:"metric"`
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
func Compress(ctx context.Context, m *onnxrewrite.Model, opts Options) (*Report, error) {
	if opts.Ratio == 0 {
		opts.Ratio = DefaultRatio
	}
	if (opts.M == 0) != (opts.K == 0) {
		return nil, fmt.Errorf("give both M and K, or neither (M=%d, K=%d)", opts.M, opts.K)
	}
	if opts.Ratio <= 1 && opts.M == 0 {
		return nil, fmt.Errorf("ratio %g: must be above 1", opts.Ratio)
	}
	if opts.MinTableBytes == 0 {
		opts.MinTableBytes = DefaultMinTableBytes
	}
	if opts.Floor == 0 {
		opts.Floor = DefaultFloor
	}
	if opts.Floor > 1 {
		return nil, fmt.Errorf("floor %g: must be at most 1", opts.Floor)
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
	// A broken graph fails now, not after minutes of learning.
	if err := onnxrewrite.CheckDataflow(m); err != nil {
		return nil, err
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	names := opts.Tables
	if names == nil {
		for _, t := range inv.Tables {
			names = append(names, t.Name)
		}
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no embedding table (a rank-2 float initializer read by a Gather along axis 0): %w", m.Path, onnxrewrite.ErrNotFound)
	}
	rep := &Report{}
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tb, err := inv.Table(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		tr, err := compressTable(ctx, m, tb, opts, progress)
		if err != nil {
			return nil, err // errors name the model and the table
		}
		rep.Tables = append(rep.Tables, *tr)
	}
	return rep, nil
}

func compressTable(ctx context.Context, m *onnxrewrite.Model, tb *onnxrewrite.Table, opts Options, progress func(Event)) (*TableReport, error) {
	v, d := int(tb.Shape[0]), int(tb.Shape[1])
	named := opts.Tables != nil // asked for by name: no floor, and no leaving alone
	tr := &TableReport{Name: tb.Name, Shape: tb.Shape, DType: tb.DType}
	if err := tb.Rewritable(); err != nil {
		if named {
			return nil, fmt.Errorf("%s: table %q was asked for but cannot be compressed: %w", m.Path, tb.Name, err)
		}
		tr.Skipped = err.Error()
		progress(Event{Table: tb.Name, Phase: "skip"})
		return tr, nil
	}
	es := tb.Bytes / max(tb.Shape[0]*tb.Shape[1], 1)
	mm, k := opts.M, opts.K
	if mm == 0 {
		mm, k = ChooseMK(v, d, int(es), opts.Ratio, opts.NoPack)
		if mm == 0 {
			tr.Skipped = fmt.Sprintf("no M with K=%d makes codes and codebook %gx smaller than its %d bytes (lower the ratio, or give M and K)", DefaultK, opts.Ratio, tb.Bytes)
		}
	} else if after := codedBytes(v, d, int(es), mm, k, opts.NoPack); after >= tb.Bytes {
		tr.Skipped = fmt.Sprintf("codes and codebook at M=%d K=%d (%d bytes) would not be smaller than the table (%d bytes)", mm, k, after, tb.Bytes)
	}
	if tr.Skipped == "" && !named && opts.MinTableBytes > 0 && tb.Bytes < opts.MinTableBytes {
		tr.Skipped = fmt.Sprintf("%d bytes is under the %d-byte minimum worth compressing", tb.Bytes, opts.MinTableBytes)
	}
	if tr.Skipped != "" && named {
		return nil, fmt.Errorf("%s: table %q was asked for but cannot be compressed: %s", m.Path, tb.Name, tr.Skipped)
	}
	if tr.Skipped != "" {
		progress(Event{Table: tb.Name, Phase: "skip"})
		return tr, nil
	}
	tr.M, tr.K, tr.Method = mm, k, opts.Method
	if tr.Method == "" {
		tr.Method = learner.MethodAQ
	}

	progress(Event{Table: tb.Name, Phase: "read"})
	mat, err := m.ReadTableFloat32(tb.Name)
	if err != nil {
		return nil, err
	}
	var weights []float32
	if counts, ok := opts.Counts[tb.Name]; ok {
		progress(Event{Table: tb.Name, Phase: "weights"})
		if weights, tr.RowsRead, err = Weights(counts, opts.Floor); err != nil {
			return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
		}
		tr.Calibrated = true
	}
	var pc *precond
	var factor []float64
	switch opts.Metric {
	case "", "auto":
		ro, why, err := onnxrewrite.FindReadout(m, tb.Name)
		if err != nil {
			return nil, err
		}
		if ro == nil {
			tr.Metric = "euclidean: " + why
			break
		}
		if pc, err = newPrecond(ro.Factor, d, ro.Rank); err != nil {
			return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
		}
		factor = ro.Factor
		tr.Metric = "readout: " + ro.String()
	default: // "euclidean": Compress checked the value
		tr.Metric = "euclidean: asked for"
	}
	cfg := learner.Config{M: mm, K: k, Method: opts.Method, Seed: opts.Seed, Weights: weights, Threads: opts.Threads,
		Progress: func(p learner.Progress) { progress(Event{Table: tb.Name, Phase: "learn", Learn: &p}) }}
	var key string
	if opts.CodesDir != "" {
		key = cacheKey(mat, factor, cfg)
	}
	data := mat.Data
	if pc != nil {
		// The learner sees the rows in the metric; the table itself is let
		// go while it learns and read again to report errors, so that a
		// large table is held twice, not three times.
		data = pc.apply(mat.Data, false)
		mat.Data = nil
		collectIfLarge(len(data))
	}
	codes, book, cached, err := learnCached(ctx, opts.CodesDir, tb.Name, key, v, d, data, cfg, progress, func(b []float32) []float32 {
		if pc == nil {
			return b
		}
		return pc.apply(b, true)
	})
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	tr.Cached = cached.hit
	tr.LearnSeconds = cached.seconds
	if pc != nil {
		mr := learner.Evaluate(data, v, d, codes, pc.apply(book, false), mm, k, weights).RelSqErr
		tr.MetricRelSqErr = &mr
		n := len(data)
		data = nil // free before the table is read again
		collectIfLarge(n)
		if mat, err = m.ReadTableFloat32(tb.Name); err != nil {
			return nil, err
		}
	}
	met := learner.Evaluate(mat.Data, v, d, codes, book, mm, k, weights)
	tr.WeightedRelSqErr, tr.RelSqErr, tr.MeanDist = met.RelSqErr, met.RelSqErrUnweighted, met.MeanDist

	progress(Event{Table: tb.Name, Phase: "rewrite"})
	rw, err := onnxrewrite.RewriteTable(m, onnxrewrite.Codes{Rows: v, M: mm, K: k, Data: codes},
		onnxrewrite.Codebook{M: mm, K: k, D: d, Data: book},
		onnxrewrite.RewriteOptions{Table: tb.Name, Layout: opts.Layout, NoPack: opts.NoPack, NoBag: opts.NoBag})
	if err != nil {
		return nil, err
	}
	tr.Rewrite = rw
	return tr, nil
}

// collectIfLarge collects after a table of n floats was let go, when it is
// large, and returns the memory to the operating system: measured on a 1 GiB
// table, a plain collection left the freed pages resident while the
// learner's next table-sized buffer took fresh ones (peak RSS 3.1 GiB).
func collectIfLarge(n int) {
	if int64(n)*4 >= 256<<20 {
		debug.FreeOSMemory()
	}
}

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
	budget := float64(v*d*es) / ratio
	best := 0
	for m := 2; m <= 256; m += 2 {
		if float64(codedBytes(v, d, es, m, DefaultK, noPack)) <= budget {
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

type cacheResult struct {
	hit     bool
	seconds float64
}

// learnCached learns codes, or reads them from dir when the same table and
// settings were learned before.
// The learner sees data [rows, cols] (the table, or its rows in a readout
// metric); toTable maps the learned codebook back to the table's space. key
// names the codes in dir.
func learnCached(ctx context.Context, dir, table, key string, rows, cols int, data []float32, cfg learner.Config,
	progress func(Event), toTable func([]float32) []float32) ([]uint16, []float32, cacheResult, error) {
	var codesPath, bookPath string
	if dir != "" {
		base := filepath.Join(dir, safeName(table)+"-"+key[:16])
		codesPath, bookPath = base+".codes.npy", base+".codebook.npy"
		if codes, book, err := readCached(codesPath, bookPath, rows, cols, cfg); err == nil {
			progress(Event{Table: table, Phase: "cached"})
			return codes, book, cacheResult{hit: true}, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return nil, nil, cacheResult{}, fmt.Errorf("codes cache: %w", err)
		}
	}
	progress(Event{Table: table, Phase: "learn"})
	start := time.Now()
	res, err := learner.Learn(ctx, data, rows, cols, cfg)
	if err != nil {
		return nil, nil, cacheResult{}, err
	}
	res.Codebook = toTable(res.Codebook)
	took := time.Since(start).Seconds()
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, nil, cacheResult{}, fmt.Errorf("codes cache: %w", err)
		}
		if err := npy.WriteFile(codesPath, codesArray(res.Codes, rows, cfg.M, cfg.K)); err != nil {
			return nil, nil, cacheResult{}, err
		}
		if err := npy.WriteFile(bookPath, npy.FromFloat32([]int{cfg.M * cfg.K, cols}, res.Codebook)); err != nil {
			return nil, nil, cacheResult{}, err
		}
	}
	return res.Codes, res.Codebook, cacheResult{seconds: took}, nil
}

// codesArray stores codes as uint8 when K <= 256, else uint16.
func codesArray(codes []uint16, rows, m, k int) *npy.Array {
	if k <= 256 {
		b := make([]uint8, len(codes))
		for i, c := range codes {
			b[i] = uint8(c)
		}
		return npy.FromUint8([]int{rows, m}, b)
	}
	return npy.FromUint16([]int{rows, m}, codes)
}

func readCached(codesPath, bookPath string, rows, cols int, cfg learner.Config) ([]uint16, []float32, error) {
	ca, err := npy.ReadFile(codesPath)
	if err != nil {
		return nil, nil, err
	}
	ba, err := npy.ReadFile(bookPath)
	if err != nil {
		return nil, nil, err
	}
	ints, err := ca.Int64s()
	if err != nil {
		return nil, nil, err
	}
	book, err := ba.Float32s()
	if err != nil {
		return nil, nil, err
	}
	if len(ints) != rows*cfg.M || len(book) != cfg.M*cfg.K*cols {
		return nil, nil, fmt.Errorf("%s: cached codes do not fit the table", codesPath)
	}
	codes := make([]uint16, len(ints))
	for i, c := range ints {
		if c < 0 || c >= int64(cfg.K) {
			return nil, nil, fmt.Errorf("%s: code %d outside [0, %d)", codesPath, c, cfg.K)
		}
		codes[i] = uint16(c)
	}
	return codes, book, nil
}

// cacheVersion changes whenever the learner's output for the same inputs
// may change, so that stale codes are never reused.
const cacheVersion = "embshrink-codes-v3"

// cacheKey covers the table's values and every setting that shapes the
// learned codes.
func cacheKey(mat *onnxrewrite.Matrix, factor []float64, cfg learner.Config) string {
	h := sha256.New()
	settings, _ := json.Marshal(struct {
		Version                                   string
		Rows, Cols, M, K                          int
		Method                                    string
		Seed                                      int64
		Iterations, ICMSweeps, Restarts, Perturb  int
		KMeansIters, KMeansTrials, Epochs, Batch  int
		Ridge, Anneal, LR, Tau, ValFrac, ClipNorm float64
	}{cacheVersion, mat.Rows, mat.Cols, cfg.M, cfg.K, cfg.Method, cfg.Seed, cfg.Iterations, cfg.ICMSweeps, cfg.Restarts, cfg.Perturb,
		cfg.KMeansIters, cfg.KMeansTrials, cfg.Epochs, cfg.Batch, cfg.Ridge, cfg.Anneal, cfg.LR, cfg.Tau, cfg.ValFraction, cfg.ClipNorm})
	h.Write(settings)
	hashFloats(h, mat.Data)
	// Weights, or their absence, are part of the key.
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(cfg.Weights))))
	hashFloats(h, cfg.Weights)
	h.Write(binary.LittleEndian.AppendUint64(nil, uint64(len(factor))))
	for _, g := range factor {
		h.Write(binary.LittleEndian.AppendUint64(nil, math.Float64bits(g)))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// safeName keeps a table name usable as part of a file name.
func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

// hashFloats feeds values to h as little-endian bytes, a chunk at a time.
func hashFloats(h hash.Hash, v []float32) {
	buf := make([]byte, 0, 1<<16)
	for i, x := range v {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(x))
		if len(buf) == cap(buf) || i == len(v)-1 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
}
