package npy

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadFortranOrder reads hand-built Fortran-order files whose element
// at each index holds that index's C-order position, so the data read must
// count 0, 1, 2, ... in the declared shape.
func TestReadFortranOrder(t *testing.T) {
	tests := []struct {
		descr string
		shape []int
	}{
		{"<i4", []int{}},
		{"<i4", []int{5}},
		{"<i4", []int{2, 3}},
		{"<i4", []int{3, 2}},
		{"<i4", []int{1, 4}},
		{"<i4", []int{4, 0}},
		{"<i8", []int{2, 3, 4}},
		{"<i4", []int{3, 1, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s%v", tt.descr, tt.shape), func(t *testing.T) {
			d, _ := parseDType(tt.descr)
			fortran, want := fortranCounting(tt.shape, d.size)
			dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': True, 'shape': %s, }", tt.descr, pyTuple(tt.shape))
			file := encode(1, dict, fortran)
			path := filepath.Join(t.TempDir(), "f.npy")
			if err := os.WriteFile(path, file, 0o644); err != nil {
				t.Fatal(err)
			}
			fromFile, err := ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			fromStream, err := Read(bytes.NewReader(file))
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range []*Array{fromFile, fromStream} {
				if a.DType != tt.descr || !reflect.DeepEqual(a.Shape, tt.shape) || !bytes.Equal(a.Data, want) {
					t.Errorf("got %s %v data % x, want %s %v data % x", a.DType, a.Shape, a.Data, tt.descr, tt.shape, want)
				}
			}
		})
	}
}

// fortranCounting returns the column-major bytes of the array whose element
// at each index is its row-major position, and the row-major bytes 0, 1,
// 2, .... It walks the indices with the first axis fastest.
func fortranCounting(shape []int, size int) (fortran, c []byte) {
	n, _ := numElements(shape)
	fortran, c = make([]byte, n*size), make([]byte, n*size)
	put := func(b []byte, v int) {
		if size == 4 {
			binary.LittleEndian.PutUint32(b, uint32(v))
		} else {
			binary.LittleEndian.PutUint64(b, uint64(v))
		}
	}
	idx := make([]int, len(shape))
	for f := range n {
		pos := 0
		for k := range shape {
			pos = pos*shape[k] + idx[k]
		}
		put(fortran[f*size:], pos)
		put(c[f*size:], f)
		for k := range idx {
			if idx[k]++; idx[k] < shape[k] {
				break
			}
			idx[k] = 0
		}
	}
	return fortran, c
}

// pyTuple renders a shape as Python writes a tuple.
func pyTuple(shape []int) string {
	s := "("
	for i, d := range shape {
		if i > 0 {
			s += ", "
		}
		s += fmt.Sprint(d)
	}
	if len(shape) == 1 {
		s += ","
	}
	return s + ")"
}
