package half

import (
	"math"
	"testing"
)

// Every half value widens exactly and rounds back to itself.
func TestHalfRoundTrip(t *testing.T) {
	for h := 0; h < 1<<16; h++ {
		f := ToFloat32(uint16(h))
		if math.IsNaN(float64(f)) {
			if back := FromFloat32(f); back&0x7c00 != 0x7c00 || back&0x3ff == 0 {
				t.Fatalf("NaN %#04x came back as %#04x", h, back)
			}
			continue
		}
		if back := FromFloat32(f); back != uint16(h) {
			t.Fatalf("%#04x -> %v -> %#04x", h, f, back)
		}
	}
}

func TestFloat32ToHalfRounds(t *testing.T) {
	cases := []struct {
		in   float32
		want uint16
	}{
		{1, 0x3c00},
		{1 + 1.0/2048, 0x3c00},           // halfway between 1 and next: ties to even (down)
		{1 + 3.0/2048, 0x3c02},           // halfway, odd below: up
		{65504, 0x7bff},                  // largest half
		{65520, 0x7c00},                  // rounds to infinity
		{-2, 0xc000},                     // sign
		{5.960464477539063e-08, 0x0001},  // smallest subnormal
		{2.9802322387695312e-08, 0x0000}, // half the smallest subnormal: ties to even (0)
		{8.940696716308594e-08, 0x0002},  // 1.5 subnormal steps: ties to even (2)
		{6.097555160522461e-05, 0x03ff},  // largest subnormal
		{float32(math.Inf(-1)), 0xfc00},
	}
	for _, c := range cases {
		if got := FromFloat32(c.in); got != c.want {
			t.Errorf("FromFloat32(%v) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}

func TestFloat32ToBFloat16Rounds(t *testing.T) {
	cases := []struct {
		in   uint32
		want uint16
	}{
		{0x3f800000, 0x3f80},
		{0x3f808000, 0x3f80}, // tie, even stays
		{0x3f818000, 0x3f82}, // tie, odd goes up
		{0x3f808001, 0x3f81},
		{0x7f7fffff, 0x7f80}, // rounds to infinity
		{0x7fc00001, 0x7fc0}, // NaN stays NaN
		{0xff800000, 0xff80},
	}
	for _, c := range cases {
		if got := BFloat16FromFloat32(math.Float32frombits(c.in)); got != c.want {
			t.Errorf("BFloat16FromFloat32(%#08x) = %#04x, want %#04x", c.in, got, c.want)
		}
	}
}
