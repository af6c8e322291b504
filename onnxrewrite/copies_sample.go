package onnxrewrite

import (
	"bytes"
	"fmt"
	"io"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// A sampled copy check (ListTables, for inspect) compares copySampleRows
// whole rows of the table with the candidate: the first and the last (where
// a padding row or added tokens would differ), copyEvenRows-2 evenly spaced
// between, and the rest at rows a hash of the shape picks, so that the same
// model gets the same answer while no fixed stride alone decides it. A
// candidate that differs from the table in some rows only can pass it: that
// is why a rewrite, which serves copies from the codes, uses FindTables.
//
// What it reads, whatever the number of rows V of a [V, D] table of e-byte
// values: the copyProbes scattered values, then 16*D*e bytes of the table
// and as many of the candidate. A straight copy's rows are read as rows (for
// [8388608, 2048] float32: 16 reads of 8 KiB from each tensor); a
// transposed copy holds a table row as a column, D values V*e bytes apart,
// read one at a time (there: 16*2048 = 32,768 reads of 4 bytes). Memory:
// one row, or copyBlock bytes of it when longer.
const (
	copySampleRows = 16
	copyEvenRows   = 8
)

// sampleRows returns the rows a sampled check compares, ascending and
// distinct; rows must exceed copySampleRows.
func sampleRows(rows, cols int64) []int64 {
	picked := map[int64]bool{}
	out := make([]int64, 0, copySampleRows)
	add := func(r int64) {
		for picked[r] { // a hash pick already taken: the next free row
			r = (r + 1) % rows
		}
		picked[r] = true
		out = append(out, r)
	}
	for k := int64(0); k < copyEvenRows; k++ {
		add(k * (rows - 1) / (copyEvenRows - 1))
	}
	h := uint64(rows)*0x9e3779b97f4a7c15 ^ uint64(cols)
	for len(out) < copySampleRows {
		h = splitmix64(h)
		add(int64(h % uint64(rows)))
	}
	slices.Sort(out)
	return out
}

// splitmix64 is one step of the SplitMix64 generator (Steele, Lea and
// Flood 2014): a well-mixed 64-bit value for each state.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// sameRows compares the sampled rows of the table (tr, [rows, cols]) with
// the candidate (cr): row against row for a straight candidate, row against
// column for a transposed one ([cols, rows]).
func sameRows(m *model.Model, tr, cr io.ReaderAt, c *onnxpb.TensorProto, rows, cols, es int64, transposed bool, sample []int64) (bool, error) {
	rowBytes := cols * es
	for _, r := range sample {
		var same bool
		var err error
		if transposed {
			same, err = sameRowAsColumn(m, tr, cr, c, r, rows, cols, es)
		} else {
			same, err = sameStream(m, io.NewSectionReader(tr, r*rowBytes, rowBytes), io.NewSectionReader(cr, r*rowBytes, rowBytes), c, rowBytes)
		}
		if err != nil || !same {
			return false, err
		}
	}
	return true, nil
}

// sameRowAsColumn compares table row r with column r of a candidate
// [cols, rows]: the row a block at a time, the column a value at a time.
func sameRowAsColumn(m *model.Model, tr, cr io.ReaderAt, c *onnxpb.TensorProto, r, rows, cols, es int64) (bool, error) {
	block := max(1, min(cols, copyBlock/es))
	row := make([]byte, block*es)
	v := make([]byte, es)
	for j0 := int64(0); j0 < cols; j0 += block {
		nj := min(block, cols-j0)
		if _, err := tr.ReadAt(row[:nj*es], (r*cols+j0)*es); err != nil {
			return false, err
		}
		for j := j0; j < j0+nj; j++ {
			if _, err := cr.ReadAt(v, (j*rows+r)*es); err != nil {
				return false, fmt.Errorf("%s: tensor %q: %w", m.Path, c.Name, err)
			}
			if !bytes.Equal(v, row[(j-j0)*es:(j-j0+1)*es]) {
				return false, nil
			}
		}
	}
	return true, nil
}
