package onnxrewrite

// Reference quantisations: a table stored in float16, int8 per row or 4-bit
// per block, with the standard-op subgraph that turns it back into the
// table's dtype under the table's own name, so that every reader (Gathers,
// a tied MatMul, copies) works unchanged. They are the points a sweep
// compares codes with.
//
//   float16:    Cast(table_f16, to=dtype)
//   int8-row:   opset >= 13: DequantizeLinear(q int8 [V, D], scale [V], axis=0)
//               opset < 13:  Mul(Cast(q, float), scale [V, 1])
//   int4-block: opset >= 21 (IR >= 10): DequantizeLinear(q int4 [V, D],
//               scale [V, D/B], axis=1, block_size=B)
//               else: bytes [V, D/2, 1] of two uint4 (q+8, low nibble first),
//               unpacked by BitShift (hi = x>>4, lo = (x<<4)>>4 in uint8),
//               Concat, Cast to float, Sub 8, times the block scales.
//
// A Cast to the table's dtype follows when it is not float32. The model's
// opset is never changed.

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// QuantizeReport says what QuantizeTable did.
type QuantizeReport struct {
	Table  string      `json:"table"`
	Scheme QuantScheme `json:"scheme"`
	// Form says how the model dequantizes, e.g. "DequantizeLinear axis=0".
	Form string `json:"form"`
	// Block is the values per scale along a row (0 for float16).
	Block int `json:"block,omitempty"`
	// TableBytes is what the table and its copies took; StoredBytes what
	// replaces them (values, scales and small constants).
	TableBytes  int64 `json:"table_bytes"`
	StoredBytes int64 `json:"stored_bytes"`
	// RelSqErr is the table's relative squared error after the round trip.
	RelSqErr float64 `json:"rel_sq_err"`
}

// QuantizeTable replaces the named table (the largest when name is "") by
// its values in scheme and the subgraph that dequantizes them.
func QuantizeTable(m *model.Model, name string, scheme QuantScheme) (*QuantizeReport, error) {
	op := m.Opset()
	if op < MinOpset || op > MaxOpset {
		return nil, fmt.Errorf("%s: default opset %d is not supported (%d to %d)", m.Path, op, MinOpset, MaxOpset)
	}
	tb, err := findTable(m, name)
	if err != nil {
		return nil, err
	}
	mat, err := ReadTable(m, tb)
	if err != nil {
		return nil, err
	}
	if mat.Exp != 0 {
		return nil, fmt.Errorf("%s: table %q: its float64 values reach 2^%d, beyond float32's range: %s stores float16 or float32 values and scales",
			m.Path, tb.Name, mat.Exp, scheme)
	}
	dt := model.DataType(tb.def.tensor.DataType)
	if scheme == QuantFloat16 && dt == onnxpb.TensorProto_FLOAT16 {
		return nil, fmt.Errorf("%s: table %q is float16 already", m.Path, tb.Name)
	}
	qt, err := quantize(mat.Data, mat.Rows, mat.Cols, scheme)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	e := &emitter{m: m, tb: tb, names: model.NewNamer(m), dt: dt, opset: op}
	rep := &QuantizeReport{Table: tb.Name, Scheme: scheme, Block: qt.block, TableBytes: tb.Bytes,
		RelSqErr: RelSqErr(mat.Data, qt.dequantize())}
	for _, cp := range tb.Copies {
		rep.TableBytes += cp.Bytes
	}
	var out string
	switch {
	case scheme == QuantFloat16:
		out, rep.Form = e.init("float16", onnxpb.TensorProto_FLOAT16, tb.Shape[:], halfRaw(qt.half)).Name, "float16 values"
		if dt == onnxpb.TensorProto_FLOAT {
			dt = onnxpb.TensorProto_FLOAT16 // the Cast below makes float32
		}
	case scheme == QuantInt8Row:
		out, rep.Form = e.dequantInt8(qt)
	case scheme == QuantInt4Block && op >= 21 && m.Proto.IrVersion >= 10:
		out, rep.Form = e.dequantInt4(qt)
	case qt.cols%2 != 0 || qt.cols%qt.block != 0:
		return nil, fmt.Errorf("%s: table %q: 4-bit at opset %d needs an even width that blocks of %d divide, not %d", m.Path, tb.Name, op, qt.block, qt.cols)
	default:
		out, rep.Form = e.unpackUint4(qt)
	}
	if dt != onnxpb.TensorProto_FLOAT {
		e.nodeTo(&e.head, tb.Name+"/embshrink/dequant", "Cast", []string{out}, tb.Name, intAttr("to", int64(tb.def.tensor.DataType)))
		rep.Form += ", Cast"
	} else {
		e.head[len(e.head)-1].Output[0] = tb.Name
	}
	e.serveCopies()
	e.removeTable()
	g0 := tb.def.graph.g
	g0.Node = append(e.head, g0.Node...)
	g0.Initializer = append(g0.Initializer, e.added...)
	for _, t := range e.added {
		if m.Proto.IrVersion < 4 {
			g0.Input = append(g0.Input, tensorValueInfo(t.Name, model.DataType(t.DataType), t.Dims))
		}
		m.AddTensor(t)
		rep.StoredBytes += model.StoredBytes(t)
	}
	return rep, nil
}

// dequantInt8 emits the int8 per-row dequantization; the last node's
// output is the float32 table.
func (e *emitter) dequantInt8(qt *quantized) (string, string) {
	label := e.tb.Name + "/embshrink/dequant"
	raw := make([]byte, len(qt.q))
	for i, q := range qt.q {
		raw[i] = byte(q)
	}
	x := e.init("int8", onnxpb.TensorProto_INT8, e.tb.Shape[:], raw).Name
	if e.opset >= 13 {
		scale := e.init("scale", onnxpb.TensorProto_FLOAT, []int64{int64(qt.rows)}, float32Raw(qt.scales)).Name
		return e.node(&e.head, label, "DequantizeLinear", []string{x, scale}, label+"/table", intAttr("axis", 0)), "DequantizeLinear axis=0"
	}
	scale := e.init("scale", onnxpb.TensorProto_FLOAT, []int64{int64(qt.rows), 1}, float32Raw(qt.scales)).Name
	f := e.node(&e.head, label, "Cast", []string{x}, label+"/float", intAttr("to", int64(onnxpb.TensorProto_FLOAT)))
	return e.node(&e.head, label, "Mul", []string{f, scale}, label+"/table"), "Cast, Mul (opset < 13)"
}

// dequantInt4 emits opset 21's blocked DequantizeLinear of int4 values.
func (e *emitter) dequantInt4(qt *quantized) (string, string) {
	label := e.tb.Name + "/embshrink/dequant"
	raw := make([]byte, (len(qt.q)+1)/2)
	for i, q := range qt.q {
		raw[i/2] |= (byte(q) & 0xf) << (4 * (i % 2))
	}
	x := e.init("int4", onnxpb.TensorProto_INT4, e.tb.Shape[:], raw).Name
	scale := e.init("scale", onnxpb.TensorProto_FLOAT, []int64{int64(qt.rows), int64(qt.blocks())}, float32Raw(qt.scales)).Name
	out := e.node(&e.head, label, "DequantizeLinear", []string{x, scale}, label+"/table", intAttr("axis", 1), intAttr("block_size", int64(qt.block)))
	return out, fmt.Sprintf("DequantizeLinear int4 block_size=%d", qt.block)
}

// unpackUint4 emits the standard-op unpacking of two uint4 per byte (q+8),
// for opsets before 21.
func (e *emitter) unpackUint4(qt *quantized) (string, string) {
	label := e.tb.Name + "/embshrink/dequant"
	v, d, nb := int64(qt.rows), int64(qt.cols), int64(qt.blocks())
	raw := make([]byte, len(qt.q)/2)
	for i, q := range qt.q {
		raw[i/2] |= byte(int(q)+8) << (4 * (i % 2))
	}
	x := e.init("uint4x2", onnxpb.TensorProto_UINT8, []int64{v, d / 2, 1}, raw).Name
	four := e.init("four", onnxpb.TensorProto_UINT8, nil, []byte{4}).Name
	eight := e.init("eight", onnxpb.TensorProto_FLOAT, nil, float32Raw([]float32{8})).Name
	blocked := e.init("blocked_shape", onnxpb.TensorProto_INT64, []int64{3}, int64Raw(v, nb, int64(qt.block))).Name
	shape := e.init("table_shape", onnxpb.TensorProto_INT64, []int64{2}, int64Raw(v, d)).Name
	scale := e.init("scale", onnxpb.TensorProto_FLOAT, []int64{v, nb, 1}, float32Raw(qt.scales)).Name
	dir := func(s string) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: "direction", Type: onnxpb.AttributeProto_STRING, S: []byte(s)}
	}
	hi := e.node(&e.head, label, "BitShift", []string{x, four}, label+"/hi", dir("RIGHT"))
	up := e.node(&e.head, label, "BitShift", []string{x, four}, label+"/lo_up", dir("LEFT"))
	lo := e.node(&e.head, label, "BitShift", []string{up, four}, label+"/lo", dir("RIGHT"))
	pair := e.node(&e.head, label, "Concat", []string{lo, hi}, label+"/pairs", intAttr("axis", 2))
	f := e.node(&e.head, label, "Cast", []string{pair}, label+"/float", intAttr("to", int64(onnxpb.TensorProto_FLOAT)))
	centred := e.node(&e.head, label, "Sub", []string{f, eight}, label+"/centred")
	blocks := e.node(&e.head, label, "Reshape", []string{centred, blocked}, label+"/blocks")
	scaled := e.node(&e.head, label, "Mul", []string{blocks, scale}, label+"/scaled")
	out := e.node(&e.head, label, "Reshape", []string{scaled, shape}, label+"/table")
	return out, fmt.Sprintf("uint4 unpack (BitShift, Concat, Cast, Sub, Mul) block=%d, opset %d < 21", qt.block, e.opset)
}

func float32Raw(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return b
}

func halfRaw(v []uint16) []byte {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], x)
	}
	return b
}
