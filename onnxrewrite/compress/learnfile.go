package compress

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Source is the table LearnFile learns: a model's table (Model, with Table
// "" for the largest) or a float .npy [V, D] (NPY); Weights optionally
// names a .npy [V] of row weights (integer or float).
type Source struct {
	Model, Table, NPY, Weights string
}

// LearnReport is what LearnFile did.
type LearnReport struct {
	Input              string  `json:"input"`
	Table              string  `json:"table,omitempty"`
	V                  int     `json:"rows"`
	D                  int     `json:"dim"`
	M                  int     `json:"m"`
	K                  int     `json:"k"`
	Method             string  `json:"method"`
	Seed               int64   `json:"seed"`
	Weighted           bool    `json:"weighted"`
	RelSqErr           float64 `json:"rel_sq_err"`
	RelSqErrUnweighted float64 `json:"rel_sq_err_unweighted"`
	MeanDist           float64 `json:"mean_dist"`
	BitsPerRow         int     `json:"bits_per_row"`
	Ratio              float64 `json:"compression_ratio"`
	CodeBytes          int64   `json:"code_bytes"`
	CodebookBytes      int64   `json:"codebook_bytes"`
	Seconds            float64 `json:"seconds"`
	Stopped            string  `json:"stopped"`
	CodebookDType      string  `json:"codebook_dtype,omitempty"`
	Codes              string  `json:"codes"`
	Codebook           string  `json:"codebook"`
}

// LearnFile learns codes for the source's table with cfg (its Weights come
// from src.Weights) and writes them to codesPath and bookPath (see
// codes.Write). Neither output may be one of the inputs.
func LearnFile(ctx context.Context, src Source, cfg learner.Config, codesPath, bookPath string) (*LearnReport, error) {
	rep := &LearnReport{Input: src.NPY, Codes: codesPath, Codebook: bookPath}
	data, exp, err := readSource(src, rep)
	if err != nil {
		return nil, err
	}
	if exp != 0 && cfg.CodebookDType != "" && cfg.CodebookDType != learner.DTypeFloat32 {
		return nil, fmt.Errorf("%s: the table's float64 values reach 2^%d, beyond %s's range: learn it without --codebook-dtype (the codebook is written as float64)",
			rep.Input, exp, cfg.CodebookDType)
	}
	if err := model.RefuseSameFiles([]string{codesPath, bookPath}, []string{rep.Input, src.Weights}); err != nil {
		return nil, err
	}
	if src.Weights != "" {
		if cfg.Weights, err = readWeights(src.Weights, rep.V); err != nil {
			return nil, err
		}
	}
	cfg.ScaleInPlace = true // data is this function's own
	res, err := learner.Learn(ctx, data, rep.V, rep.D, cfg)
	if err != nil {
		return nil, err
	}
	c := codes.Codes{Rows: rep.V, M: cfg.M, K: cfg.K, Data: res.Codes}
	// Learned on the table divided by 2^exp (1 but for a float64 table
	// beyond float32's range, whose codebook is then written as float64).
	b := codes.Codebook{M: cfg.M, K: cfg.K, D: rep.D, Data: res.Codebook, Exp: exp}
	if err := codes.Write(codesPath, bookPath, c, b); err != nil {
		return nil, fmt.Errorf("writing codes: %w", err)
	}
	mt := res.Metrics
	rep.M, rep.K, rep.Method, rep.Seed, rep.Weighted = cfg.M, cfg.K, cfg.Method, cfg.Seed, cfg.Weights != nil
	if rep.Method == "" {
		rep.Method = learner.MethodAQ
	}
	rep.RelSqErr, rep.RelSqErrUnweighted, rep.MeanDist = mt.RelSqErr, mt.RelSqErrUnweighted, math.Ldexp(mt.MeanDist, exp)
	rep.BitsPerRow, rep.Ratio, rep.CodeBytes, rep.CodebookBytes = mt.BitsPerRow, mt.Ratio, mt.CodeBytes, mt.CodebookBytes
	rep.Seconds, rep.Stopped, rep.CodebookDType = res.Elapsed.Seconds(), res.Stopped, cfg.CodebookDType
	return rep, nil
}

// readSource reads the table and fills in the report's input, table and
// shape. A float64 table beyond float32's range is returned divided by
// 2^exp (see codes.Float32Exp); exp is 0 otherwise.
func readSource(src Source, rep *LearnReport) ([]float32, int, error) {
	switch {
	case src.Model != "" && src.NPY != "":
		return nil, 0, errors.New("learn: give either a table .npy or a model, not both")
	case src.Model == "" && src.NPY == "":
		return nil, 0, errors.New("learn: give a table .npy or a model")
	case src.NPY != "":
		a, err := npy.ReadFile(src.NPY)
		if err != nil {
			return nil, 0, err
		}
		if len(a.Shape) != 2 {
			return nil, 0, fmt.Errorf("%s: table must be 2-D [V, D], got shape %v", src.NPY, a.Shape)
		}
		var data []float32
		exp := 0
		if a.DType == "<f8" {
			data, exp = codes.ScaledFloat32s(a.Len(), func(i int) float64 {
				return math.Float64frombits(binary.LittleEndian.Uint64(a.Data[8*i:]))
			})
		} else if data, err = a.Float32s(); err != nil {
			return nil, 0, fmt.Errorf("%s: %w", src.NPY, err)
		}
		rep.V, rep.D = a.Shape[0], a.Shape[1]
		return data, exp, nil
	}
	m, err := model.Load(src.Model)
	if err != nil {
		return nil, 0, err
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, 0, err
	}
	t, err := inv.Table(src.Table)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", src.Model, err)
	}
	mat, err := onnxrewrite.ReadTable(m, t)
	if err != nil {
		return nil, 0, err
	}
	rep.Input, rep.Table, rep.V, rep.D = src.Model, t.Name, mat.Rows, mat.Cols
	return mat.Data, mat.Exp, nil
}

// readWeights reads one non-negative weight per row, of any integer or
// float dtype numpy writes (np.bincount's int64 counts, for one), converted
// to float32 as numpy's astype(np.float32) would. A negative, NaN or
// infinite weight (a float64 beyond float32's range included) is an error
// naming the file and the element.
func readWeights(path string, rows int) ([]float32, error) {
	a, err := npy.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("weights: %w", err)
	}
	if len(a.Shape) != 1 || a.Shape[0] != rows {
		return nil, fmt.Errorf("weights %s: shape %v, want [%d] (one per table row)", path, a.Shape, rows)
	}
	w, err := a.AsFloat32s()
	if err != nil {
		return nil, fmt.Errorf("weights %s: %w", path, err)
	}
	positive := false
	for i, x := range w {
		if !(x >= 0) || math.IsInf(float64(x), 1) {
			return nil, fmt.Errorf("weights %s: element %d is %v (as float32, from %s); want a finite value >= 0", path, i, x, a.DType)
		}
		positive = positive || x > 0
	}
	if !positive {
		return nil, fmt.Errorf("weights %s: every element is 0; at least one row must weigh", path)
	}
	return w, nil
}
