package onnxrewrite

import (
	"fmt"
	"io"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// SameTable says whether table a of model ma and table b of mb hold the
// same values: the same shape and type, and bitwise equal stored values (a
// quantized table's integers, scales and zero points, in the same form and
// scheme). Models exported as several files (an encoder and a decoder)
// each carry their own copy of a shared table. A few scattered values rule
// out most pairs; the rest are compared in full, a block at a time, so
// memory stays bounded whatever the tables' size.
func SameTable(ma *model.Model, a *Table, mb *model.Model, b *Table) (bool, error) {
	if a.Shape != b.Shape || a.DType != b.DType || a.Bytes != b.Bytes || (a.Quantized == nil) != (b.Quantized == nil) {
		return false, nil
	}
	pairs := [][2]*onnxpb.TensorProto{{a.def.tensor, b.def.tensor}}
	if qa, qb := a.Quantized, b.Quantized; qa != nil {
		if qa.Form != qb.Form || qa.Scheme != qb.Scheme || qa.Axis != qb.Axis || qa.Block != qb.Block || (qa.ZeroPoint == "") != (qb.ZeroPoint == "") {
			return false, nil
		}
		for _, names := range [][2]string{{qa.Scale, qb.Scale}, {qa.ZeroPoint, qb.ZeroPoint}} {
			if names[0] == "" {
				continue
			}
			ta, oka := a.def.graph.resolve(names[0])
			tb, okb := b.def.graph.resolve(names[1])
			if !oka || !okb || ta == nil || tb == nil {
				return false, nil // computed scales: not compared, not the same
			}
			pairs = append(pairs, [2]*onnxpb.TensorProto{ta.tensor, tb.tensor})
		}
	}
	for _, p := range pairs {
		same, err := sameTensor(ma, p[0], mb, p[1])
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// sameTensor compares two tensors of two models bitwise: type, shape, then
// copyProbes scattered elements, then every byte in blocks.
func sameTensor(ma *model.Model, ta *onnxpb.TensorProto, mb *model.Model, tb *onnxpb.TensorProto) (bool, error) {
	if ta.DataType != tb.DataType || len(ta.Dims) != len(tb.Dims) {
		return false, nil
	}
	n := int64(1)
	for i := range ta.Dims {
		if ta.Dims[i] != tb.Dims[i] {
			return false, nil
		}
		n *= ta.Dims[i]
	}
	bits := int64(model.ElemBits(model.DataType(ta.DataType)))
	size := (n*bits + 7) / 8
	if size == 0 {
		return true, nil
	}
	ra, closeA, err := ma.TensorReaderAt(ta)
	if err != nil {
		return false, err
	}
	defer closeA()
	rb, closeB, err := mb.TensorReaderAt(tb)
	if err != nil {
		return false, err
	}
	defer closeB()
	x, y := make([]byte, 1), make([]byte, 1)
	for s := int64(0); s < copyProbes; s++ {
		i := probeIndex(s, size)
		if err := readBoth(ma, ta, ra, x, mb, tb, rb, y, i); err != nil {
			return false, err
		}
		if x[0] != y[0] {
			return false, nil
		}
	}
	return sameStream(mb, ra, rb, tb, size)
}

// readBoth reads len(x) bytes at off from both tensors, naming the one
// that fails.
func readBoth(ma *model.Model, ta *onnxpb.TensorProto, ra io.ReaderAt, x []byte, mb *model.Model, tb *onnxpb.TensorProto, rb io.ReaderAt, y []byte, off int64) error {
	if _, err := ra.ReadAt(x, off); err != nil {
		return fmt.Errorf("%s: tensor %q: %w", ma.Path, ta.Name, err)
	}
	if _, err := rb.ReadAt(y, off); err != nil {
		return fmt.Errorf("%s: tensor %q: %w", mb.Path, tb.Name, err)
	}
	return nil
}
