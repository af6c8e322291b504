package onnxrewrite

import (
	"bytes"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestSampleRows: 16 distinct rows in range, ascending, with the first,
// the last and the evenly spaced ones, the same for the same shape.
func TestSampleRows(t *testing.T) {
	for _, c := range []struct{ rows, cols int64 }{{17, 4}, {18, 1}, {300, 16}, {128256, 2048}, {8388608, 2048}} {
		got := sampleRows(c.rows, c.cols)
		if len(got) != copySampleRows {
			t.Fatalf("[%d, %d]: %d rows %v, want %d", c.rows, c.cols, len(got), got, copySampleRows)
		}
		for i, r := range got {
			if r < 0 || r >= c.rows || i > 0 && r <= got[i-1] {
				t.Fatalf("[%d, %d]: rows %v not distinct, ascending, in [0, %d)", c.rows, c.cols, got, c.rows)
			}
		}
		for k := int64(0); k < copyEvenRows; k++ {
			if even := k * (c.rows - 1) / (copyEvenRows - 1); !slices.Contains(got, even) {
				t.Errorf("[%d, %d]: rows %v lack evenly spaced row %d", c.rows, c.cols, got, even)
			}
		}
		if again := sampleRows(c.rows, c.cols); !slices.Equal(got, again) {
			t.Errorf("[%d, %d]: %v, then %v", c.rows, c.cols, got, again)
		}
	}
}

// probed says whether one of the scattered probes compares table element
// (r, j).
func probed(rows, cols int64, transposed bool, r, j int64) bool {
	for s := int64(0); s < copyProbes; s++ {
		i := probeIndex(s, rows*cols)
		pr, pj := i/cols, i%cols
		if transposed {
			pr, pj = i%rows, i/rows // candidate [cols, rows]
		}
		if pr == r && pj == j {
			return true
		}
	}
	return false
}

// TestSampledCopies checks ListTables against FindTables on the fixtures
// whose table has a copy (transposed and straight): an exact copy is listed
// by both, sampled by ListTables only; one changed value in a row the
// sample does not read is listed by ListTables (sampled) but not by
// FindTables; one in a sampled row by neither.
func TestSampledCopies(t *testing.T) {
	for _, f := range fixtures.Folded() {
		path := testkit.Write(t, f)
		cases := []struct {
			name             string
			sampledRow       bool // change a value in a row the sample reads
			change           bool
			listed, verified bool
		}{
			{"exact", false, false, true, true},
			{"unsampled value changed", false, true, true, false},
			{"sampled value changed", true, true, false, false},
		}
		for _, c := range cases {
			t.Run(f.Name+"/"+c.name, func(t *testing.T) {
				m := testkit.Load(t, path)
				inv, err := FindTables(m)
				if err != nil {
					t.Fatal(err)
				}
				tb := inv.Tables[0]
				if len(tb.Copies) != 1 {
					t.Fatalf("fixture: copies %+v, want one", tb.Copies)
				}
				cp := tb.Copies[0]
				if c.change {
					changeCopyValue(t, m, tb, cp, c.sampledRow)
				}
				listed := copiesOf(t, m, ListTables)
				verified := copiesOf(t, m, FindTables)
				wantListed := []Copy{}
				if c.listed {
					wantListed = append(wantListed, Copy{Name: cp.Name, Transposed: cp.Transposed, Bytes: cp.Bytes, SampledRows: copySampleRows})
				}
				wantVerified := []Copy{}
				if c.verified {
					wantVerified = append(wantVerified, cp)
				}
				if !slices.Equal(listed, wantListed) || !slices.Equal(verified, wantVerified) {
					t.Errorf("ListTables copies %+v, want %+v; FindTables copies %+v, want %+v", listed, wantListed, verified, wantVerified)
				}
			})
		}
	}
}

// copiesOf returns the copies of m's first table as find reports them.
func copiesOf(t *testing.T, m *model.Model, find func(*model.Model) (*Inventory, error)) []Copy {
	t.Helper()
	inv, err := find(m)
	if err != nil {
		t.Fatal(err)
	}
	return inv.Tables[0].Copies
}

// changeCopyValue flips the lowest bit of one value of copy cp (inline
// raw data), in a sampled row or not, where no probe reads: so that only
// the sampled rows can see it.
func changeCopyValue(t *testing.T, m *model.Model, tb Table, cp Copy, sampledRow bool) {
	t.Helper()
	var cand *onnxpb.TensorProto
	for _, x := range m.Proto.Graph.Initializer {
		if x.Name == cp.Name {
			cand = x
		}
	}
	rows, cols := tb.Shape[0], tb.Shape[1]
	es := int64(model.ElemBits(model.DataType(cand.DataType)) / 8)
	for r := rows / 3; r < rows; r++ {
		if slices.Contains(sampleRows(rows, cols), r) != sampledRow {
			continue
		}
		for j := int64(0); j < cols; j++ {
			if probed(rows, cols, cp.Transposed, r, j) {
				continue
			}
			off := (r*cols + j) * es
			if cp.Transposed {
				off = (j*rows + r) * es
			}
			cand.RawData[off] ^= 1
			return
		}
	}
	t.Fatalf("no value to change (sampled row: %v)", sampledRow)
}

// TestSampledRowsBounded compares sampled rows in blocks smaller than a
// row (the last one partial): a byte changed in a sampled row is seen, in
// a straight and a transposed copy; one elsewhere is not.
func TestSampledRowsBounded(t *testing.T) {
	old := copyBlock
	copyBlock = 12 // three values a block, rows of seven
	defer func() { copyBlock = old }()
	const rows, cols, es = 20, 7, 4
	m := &model.Model{Path: "m.onnx"}
	c := &onnxpb.TensorProto{Name: "cand"}
	tab := make([]byte, rows*cols*es)
	for i := range tab {
		tab[i] = byte(i*13 + 5)
	}
	tr := make([]byte, len(tab)) // transpose [cols, rows]
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			copy(tr[(j*rows+r)*es:(j*rows+r+1)*es], tab[(r*cols+j)*es:(r*cols+j+1)*es])
		}
	}
	sample := sampleRows(rows, cols)
	for i := -1; i < len(tab); i++ {
		r := int64(i / (cols * es))
		want := i < 0 || !slices.Contains(sample, r) // unchanged, or changed where no sampled row reads
		s, x := bytes.Clone(tab), bytes.Clone(tr)
		if i >= 0 {
			s[i]++
			j := int64(i%(cols*es)) / es
			x[(j*rows+r)*es+int64(i%es)]++
		}
		if ok, err := sameRows(m, bytes.NewReader(tab), bytes.NewReader(s), c, rows, cols, es, false, sample); ok != want || err != nil {
			t.Fatalf("byte %d (row %d) changed: straight copy %v (%v), want %v", i, r, ok, err, want)
		}
		if ok, err := sameRows(m, bytes.NewReader(tab), bytes.NewReader(x), c, rows, cols, es, true, sample); ok != want || err != nil {
			t.Fatalf("byte %d (row %d) changed: transposed copy %v (%v), want %v", i, r, ok, err, want)
		}
	}
}
