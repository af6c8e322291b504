package onnxrewrite

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Copy is an initializer that holds exactly a table's values, or their
// transpose: what PyTorch's exporter writes when it constant-folds
// Transpose(table) for a tied output projection.
type Copy struct {
	Name       string `json:"name"`
	Transposed bool   `json:"transposed"`
	Bytes      int64  `json:"bytes"`
}

// findCopies lists the initializers of the table's graph that are bitwise
// copies of it, straight or transposed. A few sampled elements rule out
// almost every candidate before any full comparison reads both tensors.
func findCopies(m *model.Model, def *tableDef) ([]Copy, error) {
	t := def.tensor
	rows, cols := t.Dims[0], t.Dims[1]
	es := model.ElemBits(model.DataType(t.DataType)) / 8
	var cands []*onnxpb.TensorProto
	for _, c := range def.graph.g.Initializer {
		if c == t || c.DataType != t.DataType || len(c.Dims) != 2 || strings.HasPrefix(c.DocString, codebookDoc) {
			continue
		}
		if (c.Dims[0] == rows && c.Dims[1] == cols) || (c.Dims[0] == cols && c.Dims[1] == rows) {
			cands = append(cands, c)
		}
	}
	if len(cands) == 0 || rows*cols == 0 {
		return nil, nil
	}
	tr, tclose, err := m.TensorReaderAt(t)
	if err != nil {
		return nil, err
	}
	defer tclose()
	var out []Copy
	for _, c := range cands {
		for _, transposed := range []bool{false, true} {
			if transposed && (c.Dims[0] != cols || c.Dims[1] != rows) || !transposed && (c.Dims[0] != rows || c.Dims[1] != cols) {
				continue
			}
			same, err := sameValues(m, tr, c, rows, cols, es, transposed)
			if err != nil {
				return nil, err
			}
			if same {
				out = append(out, Copy{Name: c.Name, Transposed: transposed, Bytes: model.StoredBytes(c)})
				break
			}
		}
	}
	return out, nil
}

// sameValues compares candidate c with the table (read through tr), first
// at sampled positions, then in full.
func sameValues(m *model.Model, tr io.ReaderAt, c *onnxpb.TensorProto, rows, cols, es int64, transposed bool) (bool, error) {
	cr, cclose, err := m.TensorReaderAt(c)
	if err != nil {
		return false, err
	}
	defer cclose()
	// tableOffset maps element i of the candidate (row-major) to the table.
	tableOffset := func(i int64) int64 {
		if !transposed {
			return i * es
		}
		r, col := i/rows, i%rows // candidate is [cols, rows]
		return (col*cols + r) * es
	}
	n := rows * cols
	a, b := make([]byte, es), make([]byte, es)
	for s := int64(0); s < 64; s++ {
		i := (s*7919 + s*s*104729) % n
		if _, err := cr.ReadAt(a, i*es); err != nil {
			return false, fmt.Errorf("%s: tensor %q: %w", m.Path, c.Name, err)
		}
		if _, err := tr.ReadAt(b, tableOffset(i)); err != nil {
			return false, err
		}
		if !bytes.Equal(a, b) {
			return false, nil
		}
	}
	if !transposed {
		return sameStream(m, tr, cr, c, n*es)
	}
	return sameTransposed(m, tr, cr, c, rows, cols, es)
}
