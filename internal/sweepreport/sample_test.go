package sweepreport

import (
	"fmt"
	"math"
)

// realisticReport is a sweep as `embshrink sweep` would report it: codes at
// K = 16 (M 8 to 32) and K = 256 (M 8, 16, 32) and three reference
// quantisations, for a 3.9 MB model gated at 0.99 decision agreement.
func realisticReport() Report {
	const orig = 3_900_000
	code := func(m, k int, bytes int64, fid, terr float64) Point {
		return Point{
			Label: fmt.Sprintf("%dx%d", m, k), Kind: KindCodes, M: m, K: k, Bytes: bytes,
			Ratio: float64(orig) / float64(bytes), TableError: terr, Fidelity: fid, Pass: fid >= 0.99,
			Outputs: []OutputFigures{
				{Name: "logits", MaxAbsDiff: (1 - fid) * 3, Cosine: 1 - (1-fid)/20, Agreement: fid, Pass: fid >= 0.99},
				{Name: "pooled", MaxAbsDiff: (1 - fid) * 1.5, Cosine: 1 - (1-fid)/30, Agreement: math.NaN(), Pass: true},
			},
			LookupLatency: 1.1 + float64(m)/100, LookupRSS: int64(m) * 250_000,
		}
	}
	ref := func(label string, bytes int64, fid float64) Point {
		return Point{
			Label: label, Kind: KindReference, Bytes: bytes, Ratio: float64(orig) / float64(bytes),
			TableError: (1 - fid) / 4, Fidelity: fid, Pass: fid >= 0.99, Note: "reference",
			Outputs: []OutputFigures{{Name: "logits", MaxAbsDiff: (1 - fid) * 2, Cosine: 1 - (1-fid)/40, Agreement: fid, Pass: fid >= 0.99}},
		}
	}
	pts := []Point{
		code(8, 16, 42_000, 0.902, 0.31),
		code(12, 16, 61_000, 0.941, 0.22),
		code(16, 16, 80_000, 0.968, 0.15),
		code(24, 16, 118_000, 0.987, 0.09),
		code(32, 16, 156_000, 0.9925, 0.06),
		code(8, 256, 310_000, 0.984, 0.11),
		code(16, 256, 560_000, 0.996, 0.04),
		code(32, 256, 810_000, 0.999, 0.015),
		ref("float16", 1_950_000, 1.0),
		ref("int8 per-row", 1_010_000, 0.999),
		ref("int4 blocked", 545_000, 0.995),
	}
	return Report{
		Model: "minilm-tagger.onnx", OriginalBytes: orig, Table: "embeddings.word_embeddings.weight",
		TableShape: "[30000, 32] float32", FidelityName: "decision agreement", Gate: 0.99,
		GateText: "decision agreement >= 0.99 on 2000 calibration inputs", Points: pts, Recommended: 4,
		Command:   "embshrink compress -m 32 -k 16 -table embeddings.word_embeddings.weight -o minilm-tagger.32x16.onnx minilm-tagger.onnx",
		Generated: "embshrink v0.4.0, 2025-01-01",
	}
}
