package compress_test

import (
	"context"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestCompressVerifiesCopies compresses the fixtures whose table has a
// copy (transposed and straight). An exact copy is served from the codes:
// it leaves the model. A copy with one value changed where ListTables's
// sample does not read, so that inspect still lists it, is not: compress
// compares copies in full, and the changed tensor stays, bytes unchanged.
func TestCompressVerifiesCopies(t *testing.T) {
	for _, f := range fixtures.Folded() {
		for _, changed := range []bool{false, true} {
			m := loadFixture(t, f)
			cp := f.Copies[0]
			var want []byte
			if changed {
				want = changeUnsampled(t, m, f.Table, cp)
			}
			rep, err := compress.Compress(context.Background(), m, compress.Options{M: 2, K: 4, Seed: 1, Iterations: 2,
				Floor: compress.DefaultFloor, Tables: []string{f.Table}})
			if err != nil {
				t.Fatal(err)
			}
			var served []string
			if rw := rep.Tables[0].Rewrite; rw != nil {
				for _, c := range rw.Copies {
					served = append(served, c.Name)
				}
			}
			left := initializer(m, cp)
			if changed && (served != nil || left == nil || !slices.Equal(left.RawData, want)) {
				t.Errorf("%s, one value changed: copies served %q, %q left in the model: %v (its bytes kept: %v); want not served, kept",
					f.Name, served, cp, left != nil, left != nil && slices.Equal(left.RawData, want))
			}
			if !changed && (!slices.Equal(served, []string{cp}) || left != nil) {
				t.Errorf("%s, exact copy: copies served %q, %q left in the model: %v; want it served, gone", f.Name, served, cp, left != nil)
			}
		}
	}
}

// changeUnsampled flips the lowest bit of one value of the table's copy
// cp, the first one (from a third of the tensor on) whose change leaves
// the copy in ListTables's listing, and returns the copy's new bytes.
func changeUnsampled(t *testing.T, m *model.Model, table, cp string) []byte {
	t.Helper()
	c := initializer(m, cp)
	for off := len(c.RawData) / 3; off < len(c.RawData); off += 4 {
		c.RawData[off] ^= 1
		inv, err := onnxrewrite.ListTables(m)
		if err != nil {
			t.Fatal(err)
		}
		tb, err := inv.Table(table)
		if err != nil {
			t.Fatal(err)
		}
		if len(tb.Copies) == 1 && tb.Copies[0].Name == cp && tb.Copies[0].SampledRows > 0 {
			return slices.Clone(c.RawData)
		}
		c.RawData[off] ^= 1
	}
	t.Fatalf("%s: every changed value takes %q out of the listing", m.Path, cp)
	return nil
}

func initializer(m *model.Model, name string) *onnxpb.TensorProto {
	for _, x := range m.Proto.Graph.Initializer {
		if x.Name == name {
			return x
		}
	}
	return nil
}
