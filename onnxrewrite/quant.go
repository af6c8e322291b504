package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Quantized tables. A quantized table is an integer initializer whose
// lookup dequantizes it: one quantForm per way ORT's tools and exporters
// write that (quant_*.go), all in quantForms. A form recognizes its chain
// of nodes at one node (match) and describes it as a qsite: the integer
// values, how they dequantize (qlayout, read by one shared dequantize), the
// nodes the chain consists of and the value it produces. FindTables groups
// the sites of one integer tensor into a Table; a rewrite replaces every
// site by a plain Gather of the dequantized table (quant_lower.go) and then
// rewrites that table as a float one, so tied uses and copies behave alike.

// QuantInfo says how a quantized table is dequantized.
type QuantInfo struct {
	// Form names the chain: "gather-dequantize" (Gather -> DequantizeLinear),
	// "qdq" (DequantizeLinear -> Gather), "per-row" (Gather, Cast, Sub, Mul
	// with per-row scales gathered with the ids) or
	// "gather-block-quantized" (com.microsoft.GatherBlockQuantized).
	Form string `json:"form"`
	// Op is what dequantizes: "DequantizeLinear", "Cast/Sub/Mul" or
	// "com.microsoft.GatherBlockQuantized".
	Op string `json:"op"`
	// Node is the dequantizing node of the first lookup.
	Node NodeRef `json:"node"`
	// Scheme is e.g. "uint8 per-tensor", "int8 per-row", "int4 block 32".
	Scheme string `json:"scheme"`
	Bits   int    `json:"bits"`
	// Float is the element type the chain produces: float32, float16, ...
	Float string `json:"float"`
	// Scale and ZeroPoint name the tensors; ZeroPoint is "" when absent.
	Scale     string `json:"scale"`
	ZeroPoint string `json:"zero_point,omitempty"`
	// PerAxis says there is more than one scale; Axis is the table's axis
	// they run along (0 rows, 1 columns; -1 for one scale), Block how many
	// values of a row share one (0 when not blocked).
	PerAxis bool  `json:"per_axis"`
	Axis    int64 `json:"axis"`
	Block   int64 `json:"block,omitempty"`
	// ValueBytes and ParamBytes are the bytes of the integers and of the
	// scales and zero points; Table.Bytes is their sum.
	ValueBytes int64 `json:"value_bytes"`
	ParamBytes int64 `json:"param_bytes"`
	// ScaleValues and ZeroPointValues hold up to 4096 scales and zero
	// points, else nil.
	ScaleValues     []float32 `json:"scale_values,omitempty"`
	ZeroPointValues []int64   `json:"zero_point_values,omitempty"`
	// Kept are nodes that read the quantized values themselves (or a
	// bytewise copy of them), such as a MatMulNBits or MatMulInteger output
	// projection: a rewrite keeps those weights for them.
	Kept []Use `json:"kept,omitempty"`
	// Unsupported says why a rewrite cannot take the table; "" when it can.
	Unsupported string `json:"unsupported,omitempty"`

	sites []*qsite
}

// quantForm recognizes one form of quantized lookup.
type quantForm interface {
	// match returns the lookup that node n (index i of x's graph) starts,
	// or nil when n starts none of this form. A site whose unsupported is
	// set names the values but cannot be rewritten.
	match(x *qctx, n *onnxpb.NodeProto, i int) *qsite
}

// quantForms is the registry: a new form is one file and one entry here.
var quantForms = []quantForm{qdqForm{}, gatherDQForm{}, perRowForm{}, gbqForm{}}

// qctx is what a form matches against: one graph and who reads each value.
type qctx struct {
	m         *model.Model
	gc        *graphCtx
	consumers map[string][]int
	outputs   map[string]bool
}

// qlayout is how integers dequantize: (q - zero point) * scale, with one
// scale per group of values.
type qlayout struct {
	values     *tableDef
	rows, cols int64
	bits       int
	signed     bool
	// rowPacked: two 4-bit values a byte, each row padded to a byte
	// (GatherBlockQuantized on uint8); otherwise 4-bit tensors pack the
	// flattened elements, as ONNX does.
	rowPacked bool
	scale     *tableDef
	zp        *tableDef // nil: zpDefault
	zpDefault float32
	axis      int   // -1 one scale, 0 per row, 1 per column
	block     int64 // > 0: per block of a row
	out       model.DataType
}

// qsite is one lookup of a quantized table.
type qsite struct {
	form, op string
	lay      qlayout
	gc       *graphCtx
	// ids is what the lookup gathers with; out the float rows it produces.
	// For the qdq form ids is "" and out is the dequantized table.
	ids, out string
	nodes    []*onnxpb.NodeProto // the chain, removed by a rewrite
	deq      NodeRef
	gathers  []NodeRef
	others   []Use // qdq: other readers of the dequantized table
	// unsupported says why the chain cannot be rewritten.
	unsupported string
}

// one returns the only reader of value v in x's graph, or nil when it has
// none, several, or is a graph output.
func (x *qctx) one(v string) (*onnxpb.NodeProto, int) {
	c := x.consumers[v]
	if len(c) != 1 || x.outputs[v] {
		return nil, -1
	}
	return x.gc.g.Node[c[0]], c[0]
}

// constant is the initializer or Constant that name resolves to, or nil.
func (x *qctx) constant(name string) *tableDef {
	if name == "" {
		return nil
	}
	d, ok := x.gc.resolve(name)
	if !ok || d == nil {
		return nil
	}
	return d
}

func (x *qctx) ref(n *onnxpb.NodeProto, i int) NodeRef {
	return NodeRef{Graph: x.gc.path, Node: model.NodeLabel(n, i), OpType: n.OpType, node: n, gc: x.gc}
}

// intValues says whether d is a rank-2 integer tensor a table can be
// quantized into, with its bits and sign.
func intValues(d *tableDef) (bits int, signed, ok bool) {
	if d == nil || len(d.tensor.Dims) != 2 {
		return 0, false, false
	}
	switch model.DataType(d.tensor.DataType) {
	case onnxpb.TensorProto_INT8:
		return 8, true, true
	case onnxpb.TensorProto_UINT8:
		return 8, false, true
	case onnxpb.TensorProto_INT4:
		return 4, true, true
	case onnxpb.TensorProto_UINT4:
		return 4, false, true
	}
	return 0, false, false
}

// scheme names the layout: "uint8 per-tensor", "int8 per-row", ...
func (l *qlayout) scheme() string {
	s := "u"
	if l.signed {
		s = ""
	}
	s += fmt.Sprintf("int%d ", l.bits)
	switch {
	case l.block > 0:
		return s + fmt.Sprintf("block %d", l.block)
	case l.axis == 0:
		return s + "per-row"
	case l.axis == 1:
		return s + "per-column"
	}
	return s + "per-tensor"
}

// groups is how many scales the layout has.
func (l *qlayout) groups() int64 {
	switch {
	case l.block > 0:
		return l.rows * ((l.cols + l.block - 1) / l.block)
	case l.axis == 0:
		return l.rows
	case l.axis == 1:
		return l.cols
	}
	return 1
}

func (l *qlayout) group(r, c int64) int64 {
	switch {
	case l.block > 0:
		return r*((l.cols+l.block-1)/l.block) + c/l.block
	case l.axis == 0:
		return r
	case l.axis == 1:
		return c
	}
	return 0
}

// readInts decodes n integers of bits bits from raw: one a byte, or two a
// byte low nibble first, over the flattened elements or (rowPacked) per
// row of cols.
func readInts(raw []byte, n, cols int64, bits int, signed, rowPacked bool) ([]int32, error) {
	out := make([]int32, n)
	if bits == 8 {
		if int64(len(raw)) < n {
			return nil, fmt.Errorf("%d bytes for %d values", len(raw), n)
		}
		for i := range out {
			if signed {
				out[i] = int32(int8(raw[i]))
			} else {
				out[i] = int32(raw[i])
			}
		}
		return out, nil
	}
	stride := (cols + 1) / 2
	for i := range n {
		at := i / 2
		high := i%2 == 1
		if rowPacked {
			r, c := i/cols, i%cols
			at, high = r*stride+c/2, c%2 == 1
		}
		if at >= int64(len(raw)) {
			return nil, fmt.Errorf("%d bytes for %d 4-bit values", len(raw), n)
		}
		v := int32(raw[at] & 0x0f)
		if high {
			v = int32(raw[at] >> 4)
		}
		if signed && v >= 8 {
			v -= 16
		}
		out[i] = v
	}
	return out, nil
}

// zeroPoints reads the layout's zero points as floats, one per group.
func (l *qlayout) zeroPoints(m *model.Model) ([]float32, error) {
	n := l.groups()
	out := make([]float32, n)
	if l.zp == nil {
		for i := range out {
			out[i] = l.zpDefault
		}
		return out, nil
	}
	t := l.zp.tensor
	if isFloatType(model.DataType(t.DataType)) {
		v, err := m.Float32Values(t)
		if err != nil || int64(len(v)) != n {
			return nil, fmt.Errorf("zero point %q: %d values, want %d (%v)", t.Name, len(v), n, err)
		}
		return v, nil
	}
	raw, err := m.TensorBytes(t)
	if err != nil {
		return nil, err
	}
	cols := n / max(l.rows, 1)
	if l.block == 0 {
		cols = n
	}
	v, err := readInts(raw, n, cols, l.bits, l.signed, l.rowPacked)
	if err != nil {
		return nil, fmt.Errorf("zero point %q: %w", t.Name, err)
	}
	for i, x := range v {
		out[i] = float32(x)
	}
	return out, nil
}

// dequantize computes the table the layout stands for, as float32 values
// rounded through the chain's float type.
func (l *qlayout) dequantize(m *model.Model) ([]float32, error) {
	raw, err := m.TensorBytes(l.values.tensor)
	if err != nil {
		return nil, err
	}
	q, err := readInts(raw, l.rows*l.cols, l.cols, l.bits, l.signed, l.rowPacked)
	if err != nil {
		return nil, fmt.Errorf("%s: tensor %q: %w", m.Path, l.values.tensor.Name, err)
	}
	scale, err := m.Float32Values(l.scale.tensor)
	if err != nil {
		return nil, err
	}
	if int64(len(scale)) != l.groups() {
		return nil, fmt.Errorf("%s: scale %q: %d values, want %d", m.Path, l.scale.tensor.Name, len(scale), l.groups())
	}
	zp, err := l.zeroPoints(m)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	out := make([]float32, len(q))
	for r := range l.rows {
		for c := range l.cols {
			g := l.group(r, c)
			out[r*l.cols+c] = (float32(q[r*l.cols+c]) - zp[g]) * scale[g]
		}
	}
	if l.out != model.Float32 {
		b, err := model.EncodeFloats(out, l.out)
		if err != nil {
			return nil, err
		}
		t := &onnxpb.TensorProto{Dims: []int64{l.rows, l.cols}, DataType: int32(l.out), RawData: b}
		return m.Float32Values(t)
	}
	return out, nil
}

// sameLayout says whether two sites dequantize the same way.
func sameLayout(a, b *qlayout) bool {
	return a.values == b.values && a.scale.tensor == b.scale.tensor && (a.zp == nil) == (b.zp == nil) &&
		(a.zp == nil || a.zp.tensor == b.zp.tensor) && a.axis == b.axis && a.block == b.block && a.out == b.out &&
		a.rowPacked == b.rowPacked && a.zpDefault == b.zpDefault
}
