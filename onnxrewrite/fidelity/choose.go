package fidelity

import (
	"context"
	"fmt"
	"math"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/sweep"
)

// Point is one code setting Choose measured.
type Point struct {
	Setting string `json:"setting"`
	M       int    `json:"m"`
	K       int    `json:"k"`
	// Bytes are the model's files at this setting; Ratio the original's
	// over them.
	Bytes int64   `json:"bytes"`
	Ratio float64 `json:"ratio"`
	// Fidelity is sweep.Point.Fidelity: the worst decision agreement over
	// classifier-like outputs, else the worst cosine.
	Fidelity float64 `json:"fidelity"`
	// Cosine is the worst cosine over the outputs.
	Cosine float64 `json:"cosine"`
	Pass   bool    `json:"pass"`
}

// Choice is what Choose found.
type Choice struct {
	Table string `json:"table"`
	// FidelityName says what Point.Fidelity is.
	FidelityName string       `json:"fidelity_name"`
	Points       []Point      `json:"points"`
	Skipped      []sweep.Skip `json:"skipped,omitempty"`
	// Chosen indexes the smallest point that passes, -1 when none does;
	// Best the point of highest fidelity (then cosine, then fewer bytes),
	// which is what to report when none passes.
	Chosen int `json:"chosen"`
	Best   int `json:"best"`
}

// Choose runs the sweep of the model at path (opts.Settings, nil for the
// default grid of opts.Table, the largest table when ""), with no
// reference quantisations and the variants in a temporary folder it
// removes, and picks the smallest setting whose outputs on
// opts.Compare.Inputs meet opts.Compare's gate, the one the sweep
// recommends. Codes go through opts.Compress.CodesDir, so compressing at
// the chosen setting afterwards reads them from there.
func Choose(ctx context.Context, rt *ort.Runtime, path string, opts sweep.Options) (*Choice, error) {
	dir, err := os.MkdirTemp("", "embshrink-choose-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	opts.WorkDir, opts.References, opts.Measure = dir, []onnxrewrite.QuantScheme{}, nil
	res, err := sweep.Run(ctx, rt, path, opts)
	if err != nil {
		return nil, err
	}
	if len(res.Points) == 0 {
		return nil, fmt.Errorf("%s: table %q: no code setting of the sweep grid shrinks it %d to %d times", path, res.Table, sweep.GridMinRatio, sweep.GridMaxRatio)
	}
	ch := &Choice{Table: res.Table, FidelityName: res.FidelityName, Skipped: res.Skipped, Chosen: res.Recommended}
	for i, p := range res.Points {
		cos := math.Inf(1)
		for _, o := range p.Compare.Outputs {
			cos = min(cos, o.Cosine)
		}
		ch.Points = append(ch.Points, Point{Setting: p.Label, M: p.M, K: p.K, Bytes: p.Bytes, Ratio: p.Ratio, Fidelity: p.Fidelity, Cosine: cos, Pass: p.Pass})
		if i == 0 || better(ch.Points[i], ch.Points[ch.Best]) {
			ch.Best = i
		}
	}
	if ch.Chosen >= 0 {
		ch.Best = ch.Chosen
	}
	return ch, nil
}

// better says a has a higher fidelity than b, or the same and a higher
// cosine, or both the same in fewer bytes; a NaN fidelity (no output to
// judge) is never better.
func better(a, b Point) bool {
	switch {
	case math.IsNaN(a.Fidelity):
		return false
	case math.IsNaN(b.Fidelity) || a.Fidelity != b.Fidelity:
		return math.IsNaN(b.Fidelity) || a.Fidelity > b.Fidelity
	case a.Cosine != b.Cosine:
		return a.Cosine > b.Cosine
	}
	return a.Bytes < b.Bytes
}
