package onnxrewrite

import (
	"fmt"
	"math"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Forms QuantizeAsORT writes.
const (
	QuantizeDynamic = "dynamic" // ORT quantize_dynamic: uint8 per-tensor, Gather -> DequantizeLinear
	QuantizeQDQ     = "qdq"     // uint8 per-tensor, DequantizeLinear -> Gather
	QuantizePerRow  = "per-row" // int8 with a float scale a row: Gather, Cast, Mul(Gather(scale))
)

// QuantizeAsORT quantizes a float32 table the way ONNX Runtime's quantizer stores it, that only embedding Gathers read
// into one of the forms above (asymmetric uint8 over [min(0, lo), max(0,
// hi)] as ORT does, or symmetric int8 a row), for tests and benchmarks of
// quantized models.
func QuantizeAsORT(m *model.Model, name, form string) error {
	tb, err := findTable(m, name)
	if err != nil {
		return err
	}
	if tb.Quantized != nil || tb.DType != "float32" || len(tb.OtherUses) > 0 || len(tb.Copies) > 0 || tb.def.constant != nil {
		return fmt.Errorf("%s: table %q: only a float32 initializer read by Gathers alone can be quantized here", m.Path, tb.Name)
	}
	v, err := m.Float32Values(tb.def.tensor)
	if err != nil {
		return err
	}
	rows, cols := tb.Shape[0], tb.Shape[1]
	g, names := tb.def.graph.g, model.NewNamer(m)
	qn := names.Fresh(tb.Name + "_quantized")
	qt := &onnxpb.TensorProto{Name: qn, Dims: []int64{rows, cols}, RawData: make([]byte, len(v))}
	var params []*onnxpb.TensorProto
	switch form {
	case QuantizeDynamic, QuantizeQDQ:
		scale, zp := uint8Params(v)
		qt.DataType = int32(onnxpb.TensorProto_UINT8)
		for i, x := range v {
			qt.RawData[i] = byte(min(255, max(0, math.RoundToEven(float64(x/scale))+float64(zp))))
		}
		params = []*onnxpb.TensorProto{f32Tensor(names.Fresh(tb.Name+"_scale"), nil, []float32{scale}),
			{Name: names.Fresh(tb.Name + "_zero_point"), DataType: int32(onnxpb.TensorProto_UINT8), RawData: []byte{zp}}}
	case QuantizePerRow:
		qt.DataType = int32(onnxpb.TensorProto_INT8)
		scales := make([]float32, rows)
		for r := range rows {
			var hi float32
			for _, x := range v[r*cols : (r+1)*cols] {
				hi = max(hi, float32(math.Abs(float64(x))))
			}
			scales[r] = max(hi/127, 1e-12)
			for c := range cols {
				qt.RawData[r*cols+c] = byte(int8(math.RoundToEven(float64(v[r*cols+c] / scales[r]))))
			}
		}
		params = []*onnxpb.TensorProto{f32Tensor(names.Fresh(tb.Name+"_scale"), []int64{rows, 1}, scales)}
	default:
		return fmt.Errorf("quantize form %q: want dynamic, qdq or per-row", form)
	}
	g.Initializer = append(without(g.Initializer, func(t *onnxpb.TensorProto) bool { return t == tb.def.tensor }), qt)
	g.Initializer = append(g.Initializer, params...)
	rewireQuantized(g, tb, form, qn, params, names)
	return nil
}

// uint8Params are ORT's asymmetric uint8 scale and zero point for v.
func uint8Params(v []float32) (float32, byte) {
	var lo, hi float32
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	scale := (hi - lo) / 255
	if scale == 0 {
		scale = 1
	}
	return scale, byte(math.RoundToEven(float64(-lo / scale)))
}

func f32Tensor(name string, dims []int64, v []float32) *onnxpb.TensorProto {
	raw, _ := model.EncodeFloats(v, model.Float32)
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: int32(model.Float32), RawData: raw}
}

// rewireQuantized makes the table's Gathers read the quantized tensor qn
// in the given form.
func rewireQuantized(g *onnxpb.GraphProto, tb *Table, form, qn string, params []*onnxpb.TensorProto, names *model.Namer) {
	var out, head []*onnxpb.NodeProto
	deq := names.Fresh(tb.Name + "_dequantized")
	if form == QuantizeQDQ {
		head = append(head, &onnxpb.NodeProto{Name: names.Fresh(tb.Name + "/DequantizeLinear"), OpType: "DequantizeLinear",
			Input: []string{qn, params[0].Name, params[1].Name}, Output: []string{deq}})
	}
	for _, n := range g.Node {
		if len(n.Input) == 0 || n.Input[0] != tb.Name || n.OpType != "Gather" {
			out = append(out, n)
			continue
		}
		if form == QuantizeQDQ {
			n.Input[0] = deq
			out = append(out, n)
			continue
		}
		y, rows := n.Output[0], names.Fresh(n.Output[0]+"_quantized")
		n.Input[0], n.Output[0] = qn, rows
		out = append(out, n)
		if form == QuantizeDynamic {
			out = append(out, &onnxpb.NodeProto{Name: names.Fresh(n.Name + "/DequantizeLinear"), OpType: "DequantizeLinear",
				Input: []string{rows, params[0].Name, params[1].Name}, Output: []string{y}})
			continue
		}
		wide, sc := names.Fresh(rows+"_f"), names.Fresh(y+"_scale")
		out = append(out,
			&onnxpb.NodeProto{Name: names.Fresh(n.Name + "/Cast"), OpType: "Cast", Input: []string{rows}, Output: []string{wide},
				Attribute: []*onnxpb.AttributeProto{intAttr("to", int64(model.Float32))}},
			&onnxpb.NodeProto{Name: names.Fresh(n.Name + "/scale"), OpType: "Gather", Input: []string{params[0].Name, n.Input[1]}, Output: []string{sc},
				Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}},
			&onnxpb.NodeProto{Name: names.Fresh(n.Name + "/Mul"), OpType: "Mul", Input: []string{wide, sc}, Output: []string{y}})
	}
	g.Node = append(head, out...)
	g.Input = without(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.Name == tb.Name })
}
