package npy

import (
	"bytes"
	"reflect"
	"testing"
)

func FuzzRead(f *testing.F) {
	seeds := []*Array{
		FromFloat32([]int{2, 3}, []float32{1, 2, 3, 4, 5, 6}),
		FromFloat64(nil, []float64{3.5}),
		FromUint8([]int{0}, nil),
		FromUint16([]int{2}, []uint16{1, 0x3c00}),
		FromInt32([]int{1, 1, 2}, []int32{-1, 7}),
		FromInt64([]int{3}, []int64{1, -2, 3}),
		{DType: "|b1", Shape: []int{2}, Data: []byte{0, 1}},
		{DType: "|i1", Shape: []int{1}, Data: []byte{0x80}},
		{DType: "<f2", Shape: []int{1}, Data: []byte{0, 0x3c}},
		{DType: "<u8", Shape: []int{1}, Data: make([]byte, 8)},
	}
	for _, a := range seeds {
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Add(encode(2, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }", make([]byte, 4)))
	f.Add(encode(3, "{'shape': (), 'descr': '<i2', 'fortran_order': False}", make([]byte, 2)))
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := Read(bytes.NewReader(in))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := Write(&buf, a); err != nil {
			t.Fatalf("re-encoding %s %v: %v", a.DType, a.Shape, err)
		}
		b, err := Read(bytes.NewReader(buf.Bytes()))
		if err != nil {
			t.Fatalf("re-reading %s %v: %v", a.DType, a.Shape, err)
		}
		if a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
			t.Fatalf("re-read %s %v differs from %s %v", b.DType, b.Shape, a.DType, a.Shape)
		}
		if _, err := a.Float32s(); err != nil && a.DType[1] == 'f' {
			t.Fatalf("Float32s of %s: %v", a.DType, err)
		}
		if _, err := a.Int64s(); err != nil && a.DType[1] != 'f' && a.DType != "<u8" {
			t.Fatalf("Int64s of %s: %v", a.DType, err)
		}
	})
}
