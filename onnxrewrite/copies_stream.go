package onnxrewrite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// copyBlock bounds the memory of a full copy comparison: whatever the
// tables' size, it holds at most about two blocks of this many bytes.
var copyBlock int64 = 32 << 20

// sameStream compares n bytes of the table (tr) and a candidate (cr) in
// order, a block at a time.
func sameStream(m *model.Model, tr, cr io.ReaderAt, c *onnxpb.TensorProto, n int64) (bool, error) {
	a, b := make([]byte, min(n, copyBlock)), make([]byte, min(n, copyBlock))
	for off := int64(0); off < n; off += int64(len(a)) {
		k := min(int64(len(a)), n-off)
		if _, err := cr.ReadAt(a[:k], off); err != nil {
			return false, fmt.Errorf("%s: tensor %q: %w", m.Path, c.Name, err)
		}
		if _, err := tr.ReadAt(b[:k], off); err != nil {
			return false, err
		}
		if !bytes.Equal(a[:k], b[:k]) {
			return false, nil
		}
	}
	return true, nil
}

// sameTransposed compares the table [rows, cols] with a candidate [cols,
// rows] that may hold its transpose: a block of table rows at a time, each
// against the matching stretch of every candidate row, so that both are
// read once in bounded memory.
func sameTransposed(m *model.Model, tr, cr io.ReaderAt, c *onnxpb.TensorProto, rows, cols, es int64) (bool, error) {
	rowBytes := cols * es
	block := max(1, min(rows, copyBlock/max(rowBytes, 1)))
	tab := make([]byte, block*rowBytes)
	seg := make([]byte, block*es)
	for r0 := int64(0); r0 < rows; r0 += block {
		nr := min(block, rows-r0)
		if _, err := tr.ReadAt(tab[:nr*rowBytes], r0*rowBytes); err != nil {
			return false, err
		}
		for j := int64(0); j < cols; j++ {
			// Candidate row j, elements r0..r0+nr: table column j.
			if _, err := cr.ReadAt(seg[:nr*es], (j*rows+r0)*es); err != nil {
				return false, fmt.Errorf("%s: tensor %q: %w", m.Path, c.Name, err)
			}
			if !sameColumn(seg[:nr*es], tab, j*es, rowBytes, es) {
				return false, nil
			}
		}
	}
	return true, nil
}

// sameColumn says whether seg holds, element after element, column j of
// the table rows in tab (element size es, the column at byte off of each
// row of rowBytes). 4-byte elements, the common case, compare as words.
func sameColumn(seg, tab []byte, off, rowBytes, es int64) bool {
	if es == 4 {
		for r := int64(0); 4*r < int64(len(seg)); r++ {
			if binary.LittleEndian.Uint32(seg[4*r:]) != binary.LittleEndian.Uint32(tab[r*rowBytes+off:]) {
				return false
			}
		}
		return true
	}
	for r := int64(0); r*es < int64(len(seg)); r++ {
		o := r*rowBytes + off
		if !bytes.Equal(seg[r*es:(r+1)*es], tab[o:o+es]) {
			return false
		}
	}
	return true
}
