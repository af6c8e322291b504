package compress

import (
	"context"
	"fmt"

	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
)

// CodebookAuto (the default of Options.CodebookDType) stores the codebook
// in float16 for float32, float16 and quantized tables unless that makes
// the reconstruction error grow by more than AutoCodebookTolerance
// (relative); other tables keep their own type.
const (
	CodebookAuto          = "auto"
	AutoCodebookTolerance = 0.01
)

// codebookChoice is the codebook type auto tries for a table, and the
// bytes a codebook value then takes.
func codebookChoice(tb *onnxrewrite.Table, want string) (string, int, error) {
	switch want {
	case onnxrewrite.CodebookFloat32:
		return want, 4, nil
	case onnxrewrite.CodebookFloat16, onnxrewrite.CodebookBFloat16:
		return want, 2, nil
	case "", CodebookAuto:
	default:
		return "", 0, fmt.Errorf("codebook dtype %q: want float32, float16, bfloat16 or auto", want)
	}
	switch {
	case tb.Quantized != nil, tb.DType == "float32", tb.DType == "float16":
		return onnxrewrite.CodebookFloat16, 2, nil
	case tb.DType == "bfloat16":
		return onnxrewrite.CodebookBFloat16, 2, nil
	}
	return "", 8, nil // float64: the table's own type
}

// reencodes reports whether roundCodebook rounds a codebook stored as
// dtype and re-encodes the rows against it: all but float32 and the
// table's own type ("").
func reencodes(dtype string) bool { return dtype != "" && dtype != onnxrewrite.CodebookFloat32 }

// roundCodebook stores the codebook in a 16-bit type: it rounds the
// codebook and then re-encodes every row against the rounded one, so that
// rounding does not undo the learning. data are the rows the learner saw
// and toLearn maps a table-space codebook into that space. With auto it
// keeps the float32 codebook when the error grows by more than
// AutoCodebookTolerance. Rounding happens here, not in the learner
// (learner.Config.CodebookDType): with a readout metric the learner works
// in another space, and the stored codebook must be exact in the table's.
// The re-encoding is the learner's own (learner.Reencode).
func roundCodebook(ctx context.Context, data []float32, c codes.Codes, b codes.Codebook, cfg learner.Config, toLearn func([]float32) []float32,
	dtype string, auto bool, tr *TableReport) (codes.Codes, codes.Codebook, error) {
	weights := cfg.Weights
	tr.CodebookDType = dtype
	if !reencodes(dtype) {
		tr.CodebookReason = "the table's type"
		if dtype != "" {
			tr.CodebookReason = "float32"
		}
		return c, b, nil
	}
	rb := append([]float32(nil), b.Data...)
	if err := onnxrewrite.RoundCodebook(rb, dtype); err != nil {
		return c, b, err
	}
	lb := toLearn(rb)
	re, err := learner.Reencode(ctx, data, c.Rows, b.D, learner.Encoded{M: c.M, K: c.K, Codes: c.Data, Codebook: lb}, cfg)
	if err != nil {
		return c, b, err
	}
	rc := codes.Codes{Rows: c.Rows, M: c.M, K: c.K, Data: re}
	before := learner.Measure(data, c.Rows, b.D, learner.Encoded{M: c.M, K: c.K, Codes: c.Data, Codebook: toLearn(b.Data)}, weights).RelSqErr
	after := learner.Measure(data, c.Rows, b.D, learner.Encoded{M: c.M, K: c.K, Codes: rc.Data, Codebook: lb}, weights).RelSqErr
	growth := after/max(before, 1e-30) - 1
	tr.CodebookReason = fmt.Sprintf("%s: error %.4g -> %.4g (%+.2f%%)", dtype, before, after, 100*growth)
	if auto && growth > AutoCodebookTolerance {
		tr.CodebookDType = onnxrewrite.CodebookFloat32
		tr.CodebookReason = fmt.Sprintf("auto: float32, since %s grows the error %.2f%% (over %g%%)", dtype, 100*growth, 100*AutoCodebookTolerance)
		return c, b, nil
	}
	if auto {
		tr.CodebookReason = "auto: " + tr.CodebookReason
	}
	return rc, codes.Codebook{M: b.M, K: b.K, D: b.D, Data: rb, Exp: b.Exp}, nil
}
