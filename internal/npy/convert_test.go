package npy

import (
	"math"
	"reflect"
	"testing"
)

// TestAsFloat32s wants every dtype converted to float32 as numpy's
// astype(np.float32) converts it: one rounding to nearest, even for int64
// values where going through float64 would round twice.
func TestAsFloat32s(t *testing.T) {
	const twice = 1<<60 + 1<<36 + 1 // via float64: 2^60+2^36, a tie, to even 2^60
	tests := []struct {
		name string
		a    *Array
		want []float32
	}{
		{"f4", FromFloat32([]int{3}, []float32{0, 1.5, -2}), []float32{0, 1.5, -2}},
		{"f8", FromFloat64([]int{3}, []float64{0.1, 1e300, -1e-300}), []float32{0.1, float32(math.Inf(1)), 0}},
		{"f2", &Array{DType: "<f2", Shape: []int{2}, Data: le16(0x3c00, 0xc000)}, []float32{1, -2}},
		{"i1", &Array{DType: "|i1", Shape: []int{2}, Data: []byte{0xff, 0x7f}}, []float32{-1, 127}},
		{"i2", &Array{DType: "<i2", Shape: []int{1}, Data: le16(0x8000)}, []float32{-32768}},
		{"i4", FromInt32([]int{2}, []int32{7, math.MinInt32}), []float32{7, -2147483648}},
		{"i8", FromInt64([]int{4}, []int64{3, 1<<24 + 1, twice, math.MinInt64}), []float32{3, 1 << 24, 1<<60 + 1<<37, -(1 << 63)}},
		{"u1", FromUint8([]int{2}, []uint8{0, 255}), []float32{0, 255}},
		{"u2", FromUint16([]int{1}, []uint16{65535}), []float32{65535}},
		{"u4", &Array{DType: "<u4", Shape: []int{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}}, []float32{1 << 32}},
		{"u8", &Array{DType: "<u8", Shape: []int{1}, Data: []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}, []float32{1 << 64}},
		{"b1", &Array{DType: "|b1", Shape: []int{3}, Data: []byte{0, 1, 2}}, []float32{0, 1, 1}},
		{"2-D", FromInt64([]int{2, 2}, []int64{1, 2, 3, 4}), []float32{1, 2, 3, 4}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.a.AsFloat32s()
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AsFloat32s = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	if _, err := FromInt64([]int{3}, []int64{1}).AsFloat32s(); err == nil {
		t.Error("AsFloat32s of a shape that does not match its data succeeded")
	}
}
