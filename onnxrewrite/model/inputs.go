package model

import (
	"fmt"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Input is a graph input as the model file declares it.
type Input struct {
	Name string
	Elem DataType
	// Shape is nil when the rank is unknown; a dynamic dimension is -1.
	Shape     []int64
	DimParams []string
}

// Inputs lists the main graph's inputs that are not initializers.
func Inputs(m *Model) []Input {
	inits := map[string]bool{}
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		inits[t.Name] = true
	}
	var out []Input
	for _, vi := range m.Proto.GetGraph().GetInput() {
		if inits[vi.Name] {
			continue
		}
		tt := vi.GetType().GetTensorType()
		in := Input{Name: vi.Name, Elem: DataType(tt.GetElemType())}
		if tt.GetShape() != nil {
			in.Shape = []int64{}
			in.DimParams = []string{}
			for _, d := range tt.GetShape().GetDim() {
				v := int64(-1)
				if d.GetValue() != nil {
					if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
						v = d.GetDimValue()
					}
				}
				in.Shape = append(in.Shape, v)
				in.DimParams = append(in.DimParams, d.GetDimParam())
			}
		}
		out = append(out, in)
	}
	return out
}

// IsInteger says whether dt is an integer type.
func IsInteger(dt DataType) bool {
	switch dt {
	case Int64, Int32, onnxpb.TensorProto_INT16, onnxpb.TensorProto_INT8,
		Uint8, Uint16, onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		return true
	}
	return false
}

// DimsString prints a declared shape with dimension names for dynamic
// dimensions: [batch, 20].
func DimsString(shape []int64, params []string) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		switch {
		case d >= 0:
			parts[i] = fmt.Sprint(d)
		case i < len(params) && params[i] != "":
			parts[i] = params[i]
		default:
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
