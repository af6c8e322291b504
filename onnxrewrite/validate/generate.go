package validate

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// idRange is where generated ids for one input come from.
type idRange struct {
	high  int64
	table string
}

// idRanges maps each main-graph input that reaches a table's embedding
// Gather (directly or through value-preserving ops) to that table's rows,
// the smallest when several; "" maps to the smallest table of all, absent
// when the model has none.
func idRanges(m *model.Model) (map[string]idRange, error) {
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	sites, err := onnxrewrite.IDSites(m, inv, nil)
	if err != nil {
		return nil, err
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range m.Proto.Graph.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	isInput := map[string]bool{}
	for _, in := range model.Inputs(m) {
		isInput[in.Name] = true
	}
	passThrough := map[string]bool{"Cast": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true,
		"Flatten": true, "Identity": true, "Transpose": true}
	out := map[string]idRange{}
	add := func(name string, r idRange) {
		if old, ok := out[name]; !ok || r.high < old.high {
			out[name] = r
		}
	}
	for _, tb := range inv.Tables {
		add("", idRange{tb.Shape[0], tb.Name})
	}
	for _, s := range sites {
		if s.Err != nil {
			continue
		}
		name := s.IDs
		for steps := 0; !isInput[name] && steps < len(m.Proto.Graph.Node); steps++ {
			n := producer[name]
			if n == nil || !model.IsStd(n) || !passThrough[n.OpType] || len(n.Input) == 0 {
				break
			}
			name = n.Input[0]
		}
		if isInput[name] {
			add(name, idRange{s.Rows, s.Table})
		}
	}
	return out, nil
}

// hostElem is the element type a ort.HostTensor holds.
func hostElem(t ort.HostTensor) model.DataType {
	if t.Elem != onnxpb.TensorProto_UNDEFINED {
		return t.Elem
	}
	switch t.Data.(type) {
	case []float32:
		return model.Float32
	case []float64:
		return model.Float64
	case []int64:
		return model.Int64
	case []int32:
		return model.Int32
	case []uint8:
		return model.Uint8
	case []uint16:
		return model.Uint16
	case []bool:
		return onnxpb.TensorProto_BOOL
	}
	return onnxpb.TensorProto_UNDEFINED
}

// givenReport describes a given input.
func givenReport(in ort.IOInfo, t ort.HostTensor) InputReport {
	r := InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: slices.Clone(t.Shape), Source: "given", Values: "given"}
	var lo, hi int64
	seen := false
	note := func(v int64) {
		if !seen || v < lo {
			lo = v
		}
		if !seen || v > hi {
			hi = v
		}
		seen = true
	}
	switch d := t.Data.(type) {
	case []int64:
		for _, v := range d {
			note(v)
		}
	case []int32:
		for _, v := range d {
			note(int64(v))
		}
	case []uint8:
		for _, v := range d {
			note(int64(v))
		}
	case []uint16:
		if model.IsInteger(in.Elem) {
			for _, v := range d {
				note(int64(v))
			}
		}
	}
	if seen {
		r.IDRange = []int64{lo, hi + 1}
		r.Values = fmt.Sprintf("ids in [%d, %d]", lo, hi)
	}
	return r
}

// generate draws one input's values.
func generate(in ort.IOInfo, shape []int64, ranges map[string]idRange, rng *rand.Rand) (ort.HostTensor, InputReport, error) {
	n, err := ort.ElemCount(shape)
	if err != nil {
		return ort.HostTensor{}, InputReport{}, fmt.Errorf("input %q: %w", in.Name, err)
	}
	t := ort.HostTensor{Shape: shape, Elem: in.Elem}
	r := InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: shape, Source: "generated"}
	switch in.Elem {
	case model.Int64, model.Int32, model.Uint8, model.Uint16:
		t.Data = generateIDs(in, n, ranges, rng, &r)
	case onnxpb.TensorProto_BOOL:
		v := make([]bool, n)
		for i := range v {
			v[i] = rng.IntN(2) == 1
		}
		t.Data = v
		r.Values = "booleans, true with probability 1/2"
	case model.Float32, model.Float64, model.Float16, model.BFloat16:
		t.Data = generateNormal(in.Elem, n, rng)
		r.Values = "standard normal"
	default:
		return ort.HostTensor{}, InputReport{}, fmt.Errorf("input %q is %s, which cannot be generated; give its values", in.Name, model.DTypeName(in.Elem))
	}
	return t, r, nil
}

// generateIDs draws n integers for in, uniform over the rows of the table
// its ids index (ranges), in the input's element type, and says so in r.
func generateIDs(in ort.IOInfo, n int, ranges map[string]idRange, rng *rand.Rand, r *InputReport) any {
	rg, direct := ranges[in.Name]
	if !direct {
		rg = ranges[""]
	}
	high := rg.high
	if high <= 0 {
		high = 2
	}
	switch in.Elem {
	case model.Int32:
		high = min(high, math.MaxInt32)
	case model.Uint8:
		high = min(high, math.MaxUint8+1)
	case model.Uint16:
		high = min(high, math.MaxUint16+1)
	}
	r.IDRange = []int64{0, high}
	switch {
	case direct:
		r.Table = rg.table
		r.Values = fmt.Sprintf("ids uniform in [0, %d) (rows of table %s)", high, rg.table)
	case rg.table != "":
		r.Table = rg.table
		r.Values = fmt.Sprintf("ids uniform in [0, %d) (no table's Gather reads this input directly; rows of the smallest table, %s)", high, rg.table)
	default:
		r.Values = fmt.Sprintf("integers uniform in [0, %d) (the model has no embedding table)", high)
	}
	v := make([]int64, n)
	for i := range v {
		v[i] = rng.Int64N(high)
	}
	switch in.Elem {
	case model.Int32:
		return inputs.ConvertInts[int32](v)
	case model.Uint8:
		return inputs.ConvertInts[uint8](v)
	case model.Uint16:
		return inputs.ConvertInts[uint16](v)
	}
	return v
}

// generateNormal draws n standard normal values in a float type.
func generateNormal(elem model.DataType, n int, rng *rand.Rand) any {
	switch elem {
	case model.Float64:
		v := make([]float64, n)
		for i := range v {
			v[i] = rng.NormFloat64()
		}
		return v
	case model.Float16, model.BFloat16:
		round := half.FromFloat32
		if elem == model.BFloat16 {
			round = half.BFloat16FromFloat32
		}
		v := make([]uint16, n)
		for i := range v {
			v[i] = round(float32(rng.NormFloat64()))
		}
		return v
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64())
	}
	return v
}
