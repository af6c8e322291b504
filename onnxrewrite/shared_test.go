package onnxrewrite_test

import (
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// TestSameTable compares the shared table of the zoo's encoder and decoder
// files: equal as exported; not equal once one value differs (the last
// byte, past the scattered probes), once one side is quantized, or when
// both are quantized but one scale differs; equal when both are quantized
// alike.
func TestSameTable(t *testing.T) {
	root := testkit.RepoRoot(t)
	const name = "pair.shared.weight"
	enc, dec := fixtures.ZooPath(root, "t5_pair/encoder_model"), fixtures.ZooPath(root, "t5_pair/decoder_model")
	flip := func(tensor string) func(*testing.T, *model.Model) {
		return func(t *testing.T, m *model.Model) {
			for _, in := range m.Proto.Graph.Initializer {
				if in.Name == tensor {
					in.RawData[len(in.RawData)-1] ^= 1
					return
				}
			}
			t.Fatalf("no initializer %s", tensor)
		}
	}
	quantize := func(t *testing.T, m *model.Model) {
		if err := onnxrewrite.QuantizeAsORT(m, name, onnxrewrite.QuantizeDynamic); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name  string
		a, b  string
		editA func(*testing.T, *model.Model)
		editB []func(*testing.T, *model.Model)
		table string
		want  bool
	}{
		{"as exported", enc, dec, nil, nil, name, true},
		{"one value differs", enc, dec, nil, []func(*testing.T, *model.Model){flip(name)}, name, false},
		{"one side quantized", enc, enc, nil, []func(*testing.T, *model.Model){quantize}, "", false},
		{"both quantized alike", enc, enc, quantize, []func(*testing.T, *model.Model){quantize}, "", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ma, mb := testkit.Load(t, c.a), testkit.Load(t, c.b)
			if c.editA != nil {
				c.editA(t, ma)
			}
			for _, e := range c.editB {
				e(t, mb)
			}
			same := sameTable(t, ma, mb)
			if same != c.want {
				t.Errorf("SameTable: %v, want %v", same, c.want)
			}
		})
	}
	t.Run("quantized, one scale differs", func(t *testing.T) {
		ma, mb := testkit.Load(t, enc), testkit.Load(t, enc)
		quantize(t, ma)
		quantize(t, mb)
		inv, err := onnxrewrite.FindTables(mb)
		if err != nil {
			t.Fatal(err)
		}
		flip(inv.Tables[0].Quantized.Scale)(t, mb)
		if sameTable(t, ma, mb) {
			t.Error("SameTable: true for quantized tables whose scales differ")
		}
	})
}

// sameTable compares the largest table of each model.
func sameTable(t *testing.T, ma, mb *model.Model) bool {
	t.Helper()
	ia, err := onnxrewrite.FindTables(ma)
	if err != nil {
		t.Fatal(err)
	}
	ib, err := onnxrewrite.FindTables(mb)
	if err != nil {
		t.Fatal(err)
	}
	same, err := onnxrewrite.SameTable(ma, &ia.Tables[0], mb, &ib.Tables[0])
	if err != nil {
		t.Fatal(err)
	}
	return same
}
