package codes

import (
	"math"
	"testing"
)

func TestFloat32Exp(t *testing.T) {
	tests := []struct {
		amax float64
		want int
	}{
		{0, 0},
		{1, 0},
		{math.MaxFloat32, 0},
		{0x1p-126, 0}, // float32's smallest normal
		{0x1p128, 129},
		{1e300, 997},
		{0x1p-127, -126},
		{1e-300, -996},
		{math.Inf(1), 0},
		{math.NaN(), 0},
	}
	for _, tt := range tests {
		if got := Float32Exp(tt.amax); got != tt.want {
			t.Errorf("Float32Exp(%g) = %d, want %d", tt.amax, got, tt.want)
		}
	}
}

// TestScaledFloat32s wants values beyond float32's range brought into it
// by the power of two of their largest finite magnitude, with infinities
// and NaN left as they are, and values within range only rounded.
func TestScaledFloat32s(t *testing.T) {
	in := []float64{1e300, -3e299, math.Inf(-1), math.NaN(), 0}
	got, exp := ScaledFloat32s(len(in), func(i int) float64 { return in[i] })
	if exp != 997 {
		t.Fatalf("exp %d, want 997", exp)
	}
	for i, v := range in[:2] {
		if want := float32(math.Ldexp(v, -997)); got[i] != want || math.Abs(float64(want)) > 1 {
			t.Errorf("value %d: %v, want %v in [-1, 1]", i, got[i], want)
		}
	}
	if !math.IsInf(float64(got[2]), -1) || !math.IsNaN(float64(got[3])) || got[4] != 0 {
		t.Errorf("-Inf, NaN, 0 became %v", got[2:])
	}
	small := []float64{0.1, -2.5e38}
	got, exp = ScaledFloat32s(len(small), func(i int) float64 { return small[i] })
	if exp != 0 || got[0] != float32(0.1) || got[1] != float32(-2.5e38) {
		t.Errorf("in range: %v x 2^%d, want %v as float32", got, exp, small)
	}
}
