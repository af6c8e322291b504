package onnxrewrite

import (
	"bytes"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestCopyCompareBounded compares tables in blocks smaller than the table:
// an exact copy and transpose match, one changed element anywhere does not.
func TestCopyCompareBounded(t *testing.T) {
	old := copyBlock
	copyBlock = 24 // a few rows per block, the last block partial
	defer func() { copyBlock = old }()
	const rows, cols, es = 7, 3, 4
	m := &model.Model{Path: "m.onnx"}
	c := &onnxpb.TensorProto{Name: "cand"}
	tab := make([]byte, rows*cols*es)
	for i := range tab {
		tab[i] = byte(i*7 + 1)
	}
	tr := make([]byte, len(tab)) // transpose [cols, rows]
	for r := 0; r < rows; r++ {
		for j := 0; j < cols; j++ {
			copy(tr[(j*rows+r)*es:(j*rows+r+1)*es], tab[(r*cols+j)*es:(r*cols+j+1)*es])
		}
	}
	if ok, err := sameStream(m, bytes.NewReader(tab), bytes.NewReader(bytes.Clone(tab)), c, int64(len(tab))); !ok || err != nil {
		t.Fatalf("straight copy: %v %v", ok, err)
	}
	if ok, err := sameTransposed(m, bytes.NewReader(tab), bytes.NewReader(tr), c, rows, cols, es); !ok || err != nil {
		t.Fatalf("transposed copy: %v %v", ok, err)
	}
	for i := 0; i < len(tab); i++ {
		s, x := bytes.Clone(tab), bytes.Clone(tr)
		s[i]++
		x[i]++
		if ok, _ := sameStream(m, bytes.NewReader(tab), bytes.NewReader(s), c, int64(len(tab))); ok {
			t.Fatalf("byte %d changed: still a straight copy", i)
		}
		if ok, _ := sameTransposed(m, bytes.NewReader(tab), bytes.NewReader(x), c, rows, cols, es); ok {
			t.Fatalf("byte %d changed: still a transposed copy", i)
		}
	}
}
