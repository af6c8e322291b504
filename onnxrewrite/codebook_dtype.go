package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Codebook types a rewrite stores (RewriteOptions.CodebookDType).
const (
	CodebookFloat32  = "float32"
	CodebookFloat16  = "float16"
	CodebookBFloat16 = "bfloat16"
)

// codebookType is the element type to store a codebook in: name, or the
// table's own float type dt when name is "".
func codebookType(name string, dt model.DataType) (model.DataType, error) {
	switch name {
	case "":
		return dt, nil
	case CodebookFloat32:
		return model.Float32, nil
	case CodebookFloat16:
		return model.Float16, nil
	case CodebookBFloat16:
		return model.BFloat16, nil
	}
	return 0, fmt.Errorf("codebook dtype %q: want float32, float16 or bfloat16", name)
}

// RoundCodebook rounds codebook values to what storing them as name
// ("float16", "bfloat16"; "float32" and "" leave them) keeps, in place.
func RoundCodebook(v []float32, name string) error {
	dt, err := codebookType(name, model.Float32)
	if err != nil || dt == model.Float32 {
		return err
	}
	for i, x := range v {
		if dt == model.Float16 {
			v[i] = half.ToFloat32(half.FromFloat32(x))
		} else {
			v[i] = half.BFloat16ToFloat32(half.BFloat16FromFloat32(x))
		}
	}
	return nil
}
