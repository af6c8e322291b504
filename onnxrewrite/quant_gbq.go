package onnxrewrite

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// gbqForm is ONNX Runtime's contrib com.microsoft.GatherBlockQuantized
// (data, indices, scales[, zero_points]) on uint8 data: with bits 4 two
// values a byte, low nibble first, each row padded; scales [V, blocks]
// along the row; zero points packed like the data, else 2^(bits-1).
type gbqForm struct{}

func (gbqForm) match(x *qctx, n *onnxpb.NodeProto, i int) *qsite {
	if n.Domain != "com.microsoft" || n.OpType != "GatherBlockQuantized" || len(n.Input) < 3 || len(n.Output) != 1 {
		return nil
	}
	vals := x.constant(n.Input[0])
	if vals == nil || len(vals.tensor.Dims) != 2 {
		return nil
	}
	ref := x.ref(n, i)
	s := &qsite{form: "gather-block-quantized", op: "com.microsoft.GatherBlockQuantized", gc: x.gc, ids: n.Input[1], out: n.Output[0],
		nodes: []*onnxpb.NodeProto{n}, deq: ref, gathers: []NodeRef{ref}}
	bits := int(attrInt(n, "bits", 4))
	block := attrInt(n, "block_size", 128)
	d := vals.tensor.Dims
	s.lay = qlayout{values: vals, rows: d[0], cols: d[1], bits: bits, block: block, zpDefault: float32(int(1) << (bits - 1))}
	if model.DataType(vals.tensor.DataType) != onnxpb.TensorProto_UINT8 || (bits != 4 && bits != 8) {
		s.unsupported = fmt.Sprintf("GatherBlockQuantized %s: %s data with bits %d (uint8 with bits 4 or 8 is supported)", ref.Node,
			model.DTypeName(model.DataType(vals.tensor.DataType)), bits)
		return s
	}
	if bits == 4 {
		s.lay.cols, s.lay.rowPacked = 2*d[1], true
	}
	if ga, qa := attrInt(n, "gather_axis", 0), attrInt(n, "quantize_axis", 1); ga != 0 || (qa != 1 && qa != -1) || block <= 0 {
		s.unsupported = fmt.Sprintf("GatherBlockQuantized %s: gather_axis %d, quantize_axis %d, block_size %d", ref.Node, ga, qa, block)
		return s
	}
	s.unsupported = gbqParams(x, n, &s.lay)
	return s
}

// gbqParams reads GatherBlockQuantized n's scales and zero points into
// lay, or says why it cannot.
func gbqParams(x *qctx, n *onnxpb.NodeProto, lay *qlayout) string {
	nb := (lay.cols + lay.block - 1) / lay.block
	if lay.scale = x.constant(n.Input[2]); lay.scale == nil {
		return fmt.Sprintf("scales %q are not a constant", n.Input[2])
	}
	lay.out = model.DataType(lay.scale.tensor.DataType)
	if sd := lay.scale.tensor.Dims; len(sd) != 2 || sd[0] != lay.rows || sd[1] != nb || !isFloatType(lay.out) {
		return fmt.Sprintf("scales %q %v, want float [%d, %d]", lay.scale.tensor.Name, sd, lay.rows, nb)
	}
	if len(n.Input) > 3 && n.Input[3] != "" {
		if lay.zp = x.constant(n.Input[3]); lay.zp == nil {
			return fmt.Sprintf("zero points %q are not a constant", n.Input[3])
		}
		want := nb
		if lay.bits == 4 {
			want = (nb + 1) / 2
		}
		if zd := lay.zp.tensor.Dims; len(zd) != 2 || zd[0] != lay.rows || zd[1] != want || lay.zp.tensor.DataType != lay.values.tensor.DataType {
			return fmt.Sprintf("zero points %q %v, want uint8 [%d, %d]", lay.zp.tensor.Name, zd, lay.rows, want)
		}
	}
	return ""
}
