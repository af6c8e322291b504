package compress

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

type cacheResult struct {
	hit     bool
	seconds float64
	stopped string // the learner's Result.Stopped
}

// learnCached learns codes, or reads them from dir when the same table and
// settings were learned before. The learner sees data [rows, cols] (the
// table, or its rows in a readout metric); toTable maps the learned
// codebook back to the table's space. key names the codes in dir.
func learnCached(ctx context.Context, dir, table, key string, rows, cols int, data []float32, cfg learner.Config,
	progress func(Event), toTable func([]float32) []float32) (codes.Codes, codes.Codebook, cacheResult, error) {
	var codesPath, bookPath string
	if dir != "" {
		base := filepath.Join(dir, safeName(table)+"-"+key[:16])
		codesPath, bookPath = base+".codes.npy", base+".codebook.npy"
		c, b, err := readCached(codesPath, bookPath, rows, cols, cfg)
		if err == nil {
			progress(Event{Table: table, Phase: "cached"})
			return c, b, cacheResult{hit: true}, nil
		} else if !errors.Is(err, os.ErrNotExist) {
			return c, b, cacheResult{}, fmt.Errorf("codes cache: %w", err)
		}
	}
	progress(Event{Table: table, Phase: "learn"})
	start := time.Now()
	res, err := learner.Learn(ctx, data, rows, cols, cfg)
	if err != nil {
		return codes.Codes{}, codes.Codebook{}, cacheResult{}, err
	}
	c := codes.Codes{Rows: rows, M: cfg.M, K: cfg.K, Data: res.Codes}
	b := codes.Codebook{M: cfg.M, K: cfg.K, D: cols, Data: toTable(res.Codebook)}
	took := time.Since(start).Seconds()
	if dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return c, b, cacheResult{}, fmt.Errorf("codes cache: %w", err)
		}
		if err := codes.Write(codesPath, bookPath, c, b); err != nil {
			return c, b, cacheResult{}, err
		}
	}
	return c, b, cacheResult{seconds: took, stopped: res.Stopped}, nil
}

// readCached reads codes from the cache and checks they fit the table and
// the settings.
func readCached(codesPath, bookPath string, rows, cols int, cfg learner.Config) (codes.Codes, codes.Codebook, error) {
	c, b, err := codes.Read(codesPath, bookPath)
	if err != nil {
		return c, b, err
	}
	if c.M != cfg.M || c.K != cfg.K {
		return c, b, fmt.Errorf("%s: cached codes are %dx%d, want %dx%d", codesPath, c.M, c.K, cfg.M, cfg.K)
	}
	if err := codes.Check(c, b, int64(rows), int64(cols)); err != nil {
		return c, b, fmt.Errorf("%s: cached codes do not fit the table: %w", codesPath, err)
	}
	return c, b, nil
}

// cacheVersion changes whenever the learner's output for the same inputs
// may change, so that stale codes are never reused.
const cacheVersion = "embshrink-codes-v4"

// cacheKey covers the table's values, the readout factor and every
// setting that shapes the learned codes (learner.Config.Key, beside the
// struct, so that a new knob cannot be forgotten here).
func cacheKey(mat *model.Matrix, factor []float64, cfg learner.Config) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n%s\n%d %d\n", cacheVersion, cfg.Key(), mat.Rows, mat.Cols)
	hashFloats(h, mat.Data)
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
