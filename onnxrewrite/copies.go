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
	// SampledRows, when above 0, says the copy was confirmed on that many
	// whole rows of the table (and copyProbes scattered values) only, not
	// in full: what ListTables reports for a table of more rows than it
	// samples. FindTables compares every copy in full and leaves it 0; a
	// rewrite serves only such copies from the codes.
	SampledRows int64 `json:"sampled_rows,omitempty"`
}

// copyProbes is how many scattered values are compared before any row:
// they rule out almost every candidate at the cost of two reads each.
const copyProbes = 64

// probeIndex is the element (row-major, of n) that probe s compares.
func probeIndex(s, n int64) int64 {
	return (s*7919 + s*s*104729) % n
}

// findCopies lists the initializers of the table's graph that are bitwise
// copies of it, straight or transposed. A few sampled elements rule out
// almost every candidate before any full comparison reads both tensors.
// With sampled, a candidate is confirmed on the rows sampleRows picks
// instead of in full, unless those are all the table's rows.
func findCopies(m *model.Model, def *tableDef, sampled bool) ([]Copy, error) {
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
	var sample []int64 // nil: compare in full
	if sampled && rows > copySampleRows {
		sample = sampleRows(rows, cols)
	}
	var out []Copy
	for _, c := range cands {
		for _, transposed := range []bool{false, true} {
			if transposed && (c.Dims[0] != cols || c.Dims[1] != rows) || !transposed && (c.Dims[0] != rows || c.Dims[1] != cols) {
				continue
			}
			same, err := sameValues(m, tr, c, rows, cols, es, transposed, sample)
			if err != nil {
				return nil, err
			}
			if same {
				out = append(out, Copy{Name: c.Name, Transposed: transposed, Bytes: model.StoredBytes(c), SampledRows: int64(len(sample))})
				break
			}
		}
	}
	return out, nil
}

// sameValues compares candidate c with the table (read through tr), first
// at scattered positions, then on the sampled rows, or in full when sample
// is nil.
func sameValues(m *model.Model, tr io.ReaderAt, c *onnxpb.TensorProto, rows, cols, es int64, transposed bool, sample []int64) (bool, error) {
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
	for s := int64(0); s < copyProbes; s++ {
		i := probeIndex(s, n)
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
	if sample != nil {
		return sameRows(m, tr, cr, c, rows, cols, es, transposed, sample)
	}
	if !transposed {
		return sameStream(m, tr, cr, c, n*es)
	}
	return sameTransposed(m, tr, cr, c, rows, cols, es)
}
