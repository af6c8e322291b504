package validate

import (
	"fmt"
	"math/bits"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// checkBudget refuses generated inputs, or outputs whose size follows from
// the inputs' named dimensions, that would take more than
// MaxGeneratedBytes, naming the largest and the --samples that caps them.
func checkBudget(file string, infos []ort.IOInfo, plan *roles.Plan, outputs []ort.IOInfo) error {
	var total uint64
	worst, worstBytes := "", uint64(0)
	add := func(kind, name string, shape []int64, elem model.DataType) bool {
		b := max(uint64(model.ElemBits(elem)/8), 1)
		for _, d := range shape {
			hi, lo := bits.Mul64(b, uint64(max(d, 0)))
			if hi != 0 || lo > 1<<62 {
				b = 1 << 62
				continue
			}
			b = lo
		}
		if b > worstBytes {
			worst, worstBytes = kind+" "+fmt.Sprintf("%q %v", name, shape), b
		}
		total = min(total+b, 1<<62)
		return total > MaxGeneratedBytes
	}
	over := false
	for _, in := range infos {
		if shape, ok := plan.Shapes[in.Name]; ok {
			over = add("input", in.Name, shape, in.Elem) || over
		}
	}
	for _, o := range outputs {
		if o.Unranked {
			continue
		}
		shape := make([]int64, len(o.Shape))
		for j, d := range o.Shape {
			shape[j] = d
			if j == 0 && d == 1 && plan.OneByOne {
				shape[j] = plan.Batch // joined from runs of one
			}
			if d < 0 {
				shape[j] = 1 // unknown: counted as 1
				if v, ok := plan.Named[o.DimParams[j]]; ok && o.DimParams[j] != "" {
					shape[j] = v
				}
			}
		}
		over = add("output", o.Name, shape, o.Elem) || over
	}
	if over {
		return fmt.Errorf("%s: the generated inputs and their outputs would take %d bytes per model (the largest, %s, %d bytes), past the limit of %d: use fewer --samples or smaller --dims",
			file, total, worst, worstBytes, MaxGeneratedBytes)
	}
	return nil
}
