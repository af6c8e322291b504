package compress

import (
	"fmt"
	"runtime"
	"sync"

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

// roundCodebook stores the codebook in a 16-bit type: it rounds the
// codebook and then re-encodes every row against the rounded one, so that
// rounding does not undo the learning. data are the rows the learner saw
// and toLearn maps a table-space codebook into that space. With auto it
// keeps the float32 codebook when the error grows by more than
// AutoCodebookTolerance. It stands in for the learner's own last step
// (learner.Config.CodebookDType, to come) and can be replaced by it.
func roundCodebook(data []float32, c codes.Codes, b codes.Codebook, weights []float32, toLearn func([]float32) []float32,
	dtype string, auto bool, tr *TableReport) (codes.Codes, codes.Codebook, error) {
	tr.CodebookDType = dtype
	if dtype == onnxrewrite.CodebookFloat32 || dtype == "" {
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
	rc := codes.Codes{Rows: c.Rows, M: c.M, K: c.K, Data: reencode(data, b.D, c, lb)}
	before := learner.Evaluate(data, c.Rows, b.D, c.Data, toLearn(b.Data), c.M, c.K, weights).RelSqErr
	after := learner.Evaluate(data, c.Rows, b.D, rc.Data, lb, c.M, c.K, weights).RelSqErr
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
	return rc, codes.Codebook{M: b.M, K: b.K, D: b.D, Data: rb}, nil
}

// reencode picks, row by row, the codes that best fit the row with the
// codebook book (in the rows' space), by three sweeps of iterated
// conditional modes from the current codes.
func reencode(data []float32, d int, c codes.Codes, book []float32) []uint16 {
	out := append([]uint16(nil), c.Data...)
	norms := make([]float32, c.M*c.K)
	for i := range norms {
		for _, v := range book[i*d : (i+1)*d] {
			norms[i] += v * v
		}
	}
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := make([]float32, d)
			for row := w; row < c.Rows; row += workers {
				reencodeRow(data[row*d:(row+1)*d], out[row*c.M:(row+1)*c.M], book, norms, r, c.K)
			}
		}()
	}
	wg.Wait()
	return out
}

func reencodeRow(x []float32, cs []uint16, book, norms, r []float32, k int) {
	d := len(x)
	copy(r, x)
	for m, code := range cs {
		a := book[(m*k+int(code))*d:]
		for j := range r {
			r[j] -= a[j]
		}
	}
	for range 3 {
		for m := range cs {
			a := book[(m*k+int(cs[m]))*d:]
			for j := range r {
				r[j] += a[j]
			}
			best, bestV := 0, float32(0)
			for kk := range k {
				e := book[(m*k+kk)*d : (m*k+kk+1)*d]
				var dot float32
				for j, v := range e {
					dot += v * r[j]
				}
				if s := norms[m*k+kk] - 2*dot; kk == 0 || s < bestV {
					best, bestV = kk, s
				}
			}
			cs[m] = uint16(best)
			a = book[(m*k+best)*d:]
			for j := range r {
				r[j] -= a[j]
			}
		}
	}
}
