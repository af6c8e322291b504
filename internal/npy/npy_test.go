package npy

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"
)

// allDTypes lists every supported descriptor in its normalised form.
var allDTypes = []string{"<f2", "<f4", "<f8", "|i1", "<i2", "<i4", "<i8", "|u1", "<u2", "<u4", "<u8", "|b1"}

// pattern returns n deterministic bytes.
func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*37 + 11)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	shapes := [][]int{{}, {0}, {1}, {5}, {2, 3}, {3, 0, 2}, {2, 3, 4}, {1, 1, 1, 1, 7}}
	for _, dt := range allDTypes {
		d, err := parseDType(dt)
		if err != nil {
			t.Fatal(err)
		}
		for _, shape := range shapes {
			n, _ := numElements(shape)
			data := pattern(n * d.size)
			if d.kind == 'b' {
				for i := range data {
					data[i] &= 1
				}
			}
			a := &Array{DType: dt, Shape: shape, Data: data}
			var buf bytes.Buffer
			if err := Write(&buf, a); err != nil {
				t.Fatalf("Write %s %v: %v", dt, shape, err)
			}
			enc := buf.Bytes()
			hl := int(binary.LittleEndian.Uint16(enc[8:]))
			if (10+hl)%64 != 0 || enc[9+hl] != '\n' {
				t.Errorf("%s %v: header of %d bytes is not padded to 64 and newline-terminated", dt, shape, hl)
			}
			got, err := Read(bytes.NewReader(enc))
			if err != nil {
				t.Fatalf("Read %s %v: %v", dt, shape, err)
			}
			if got.DType != dt || !reflect.DeepEqual(got.Shape, shape) || !bytes.Equal(got.Data, data) {
				t.Errorf("%s %v: round trip gave %s %v (%d bytes)", dt, shape, got.DType, got.Shape, len(got.Data))
			}
			if got.Len() != n {
				t.Errorf("%s %v: Len = %d, want %d", dt, shape, got.Len(), n)
			}
			path := filepath.Join(t.TempDir(), "a.npy")
			if err := WriteFile(path, a); err != nil {
				t.Fatal(err)
			}
			got, err = ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if got.DType != dt || !reflect.DeepEqual(got.Shape, shape) || !bytes.Equal(got.Data, data) {
				t.Errorf("%s %v: file round trip gave %s %v", dt, shape, got.DType, got.Shape)
			}
		}
	}
}

func TestHeaderText(t *testing.T) {
	tests := []struct {
		shape []int
		want  string
	}{
		{[]int{}, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }"},
		{[]int{3}, "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }"},
		{[]int{3, 4}, "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }"},
	}
	for _, tt := range tests {
		var buf bytes.Buffer
		a := &Array{DType: "<f4", Shape: tt.shape, Data: make([]byte, 4*(&Array{Shape: tt.shape}).Len())}
		if err := Write(&buf, a); err != nil {
			t.Fatal(err)
		}
		hdr := buf.String()[10:]
		if !strings.HasPrefix(hdr, tt.want+" ") {
			t.Errorf("shape %v: header %q, want prefix %q", tt.shape, hdr[:len(tt.want)+1], tt.want)
		}
	}
}

func TestWriteVersion2(t *testing.T) {
	// 30000 dimensions of 1 make a header longer than 65535 bytes.
	shape := make([]int, 30000)
	for i := range shape {
		shape[i] = 1
	}
	a := &Array{DType: "<i4", Shape: shape, Data: []byte{1, 2, 3, 4}}
	var buf bytes.Buffer
	if err := Write(&buf, a); err != nil {
		t.Fatal(err)
	}
	enc := buf.Bytes()
	if enc[6] != 2 || enc[7] != 0 {
		t.Fatalf("version %d.%d, want 2.0", enc[6], enc[7])
	}
	if hl := int(binary.LittleEndian.Uint32(enc[8:])); (12+hl)%64 != 0 {
		t.Errorf("data offset %d is not a multiple of 64", 12+hl)
	}
	got, err := Read(bytes.NewReader(enc))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Shape) != len(shape) || !bytes.Equal(got.Data, a.Data) {
		t.Errorf("round trip changed the array")
	}
}

// encode builds an .npy file by hand: version, header text (padded here),
// then data.
func encode(major byte, dict string, data []byte) []byte {
	var b []byte
	b = append(b, magic...)
	b = append(b, major, 0)
	hdr := dict + "\n"
	if major == 1 {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(hdr)))
	} else {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(hdr)))
	}
	b = append(b, hdr...)
	return append(b, data...)
}

func TestReadHeaders(t *testing.T) {
	tests := []struct {
		name  string
		major byte
		dict  string
		dtype string
		shape []int
	}{
		{"v1", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "<f4", []int{2}},
		{"v2", 2, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "<f4", []int{2}},
		{"v3", 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", "<f4", []int{2}},
		{"key order", 1, "{'shape':(1,2),'fortran_order':False,'descr':'<f4'}", "<f4", []int{1, 2}},
		{"double quotes", 1, `{"descr": "<f4", "fortran_order": False, "shape": (2, )}`, "<f4", []int{2}},
		{"spaces", 1, "  {  'descr' : '<f4' ,\t'fortran_order' : False , 'shape' : ( 1 , 2 , ) , }  ", "<f4", []int{1, 2}},
		{"python2 long", 1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }", "<f4", []int{2}},
		{"scalar", 1, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }", "<f8", []int{}},
		{"byte order free", 1, "{'descr': '|u1', 'fortran_order': False, 'shape': (8,), }", "|u1", []int{8}},
		{"u1 with <", 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (8,), }", "|u1", []int{8}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, _ := parseDType(tt.dtype)
			n, _ := numElements(tt.shape)
			data := pattern(n * d.size)
			a, err := Read(bytes.NewReader(encode(tt.major, tt.dict, data)))
			if err != nil {
				t.Fatal(err)
			}
			if a.DType != tt.dtype || !reflect.DeepEqual(a.Shape, tt.shape) || !bytes.Equal(a.Data, data) {
				t.Errorf("got %s %v", a.DType, a.Shape)
			}
		})
	}
}

func TestReadErrors(t *testing.T) {
	good := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	data8 := make([]byte, 8)
	tests := []struct {
		name string
		in   []byte
		want string // substring of the error
	}{
		{"empty", nil, "magic"},
		{"bad magic", append([]byte("\x93NUMPX\x01\x00"), make([]byte, 60)...), "bad magic"},
		{"bad version", encode(4, good, data8), "version"},
		{"truncated header", encode(1, good, data8)[:20], "header"},
		{"truncated data", encode(1, good, data8[:5]), "data bytes"},
		{"big endian", encode(1, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", data8), "big-endian"},
		{"unknown dtype", encode(1, "{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", data8), "unsupported dtype"},
		{"f16", encode(1, "{'descr': '<f16', 'fortran_order': False, 'shape': (1,), }", data8), "unsupported dtype"},
		{"multibyte without order", encode(1, "{'descr': '|f4', 'fortran_order': False, 'shape': (2,), }", data8), "byte order"},
		{"structured", encode(1, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", data8), "descr"},
		{"missing key", encode(1, "{'descr': '<f4', 'shape': (2,), }", data8), "missing key"},
		{"extra key", encode(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1}", data8), "unexpected key"},
		{"duplicate key", encode(1, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", data8), "duplicate"},
		{"int not tuple", encode(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", data8), "trailing comma"},
		{"list shape", encode(1, "{'descr': '<f4', 'fortran_order': False, 'shape': [2], }", data8), "tuple"},
		{"negative dim", encode(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", data8), "integer"},
		{"fortran not bool", encode(1, "{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", data8), "True or False"},
		{"unterminated", encode(1, "{'descr': '<f4", data8), "unterminated"},
		{"trailing text", encode(1, good+" x", data8), "after the dict"},
		{"not a dict", encode(1, "'descr'", data8), "not a dict"},
		{"dim overflow", encode(1, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }", data8), "too large"},
		{"size overflow", encode(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", data8), "too"},
		{"huge shape tiny stream", encode(1, "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }", data8), "data bytes"},
		{"huge header length", append([]byte("\x93NUMPY\x02\x00\xff\xff\xff\x7f"), make([]byte, 10)...), "header length"},
		{"non-ascii header", encode(3, "{'descr': '<f4\u00e9', 'fortran_order': False, 'shape': (2,), }", data8), "ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.in))
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			path := filepath.Join(t.TempDir(), "bad.npy")
			if err := os.WriteFile(path, tt.in, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err = ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile error %v does not name the file", err)
			}
		})
	}
}

func TestReadFileSize(t *testing.T) {
	dict := "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"missing bytes", make([]byte, 7), "missing"},
		{"trailing bytes", make([]byte, 9), "trailing"},
		// 8 GB declared, 8 bytes present: must fail before allocating.
		{"huge shape", make([]byte, 8), "missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := dict
			if tt.name == "huge shape" {
				d = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000,), }"
			}
			path := filepath.Join(t.TempDir(), "x.npy")
			if err := os.WriteFile(path, encode(1, d, tt.data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := ReadFile(path)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), path) {
				t.Errorf("ReadFile error = %v, want one naming %s and mentioning %q", err, path, tt.want)
			}
		})
	}
}

func TestReadFileHugeShapeDoesNotAllocate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "huge.npy")
	d := "{'descr': '<f8', 'fortran_order': False, 'shape': (100000, 100000), }"
	if err := os.WriteFile(path, encode(1, d, make([]byte, 16)), 0o644); err != nil {
		t.Fatal(err)
	}
	var before, after runtimeMem
	before.read()
	_, err := ReadFile(path)
	after.read()
	if err == nil {
		t.Fatal("ReadFile succeeded")
	}
	if grew := after.total - before.total; grew > 1<<24 {
		t.Errorf("ReadFile allocated %d bytes for a file of a few bytes", grew)
	}
}

func TestConversions(t *testing.T) {
	f32 := []float32{0, 1.5, -2.25, float32(math.Inf(1)), 65504}
	f64 := []float64{0, 1.5, -2.25, math.Inf(-1), 1e10}
	i32 := []int32{0, -1, math.MaxInt32, math.MinInt32}
	i64 := []int64{0, -1, math.MaxInt64, math.MinInt64}
	u16 := []uint16{0, 1, 65535}
	u8 := []uint8{0, 7, 255}
	tests := []struct {
		name    string
		a       *Array
		dtype   string
		floats  []float32
		ints    []int64
		wantErr string
	}{
		{"f4", FromFloat32([]int{5}, f32), "<f4", f32, nil, "Int64s"},
		{"f8", FromFloat64([]int{5}, f64), "<f8", []float32{0, 1.5, -2.25, float32(math.Inf(-1)), 1e10}, nil, "Int64s"},
		{"i4", FromInt32([]int{2, 2}, i32), "<i4", nil, []int64{0, -1, math.MaxInt32, math.MinInt32}, "Float32s"},
		{"i8", FromInt64([]int{4}, i64), "<i8", nil, i64, "Float32s"},
		{"u2", FromUint16([]int{3}, u16), "<u2", nil, []int64{0, 1, 65535}, "Float32s"},
		{"u1", FromUint8([]int{3}, u8), "|u1", nil, []int64{0, 7, 255}, "Float32s"},
		{"f2", &Array{DType: "<f2", Shape: []int{6}, Data: le16(0x0000, 0x3c00, 0xc000, 0x7c00, 0x0001, 0x7bff)}, "<f2",
			[]float32{0, 1, -2, float32(math.Inf(1)), 5.9604645e-08, 65504}, nil, "Int64s"},
		{"i1", &Array{DType: "|i1", Shape: []int{2}, Data: []byte{0xff, 0x7f}}, "|i1", nil, []int64{-1, 127}, "Float32s"},
		{"i2", &Array{DType: "<i2", Shape: []int{1}, Data: le16(0x8000)}, "<i2", nil, []int64{-32768}, "Float32s"},
		{"u4", &Array{DType: "<u4", Shape: []int{1}, Data: []byte{0xff, 0xff, 0xff, 0xff}}, "<u4", nil, []int64{math.MaxUint32}, "Float32s"},
		{"u8", &Array{DType: "<u8", Shape: []int{1}, Data: []byte{1, 0, 0, 0, 0, 0, 0, 0}}, "<u8", nil, []int64{1}, "Float32s"},
		{"b1", &Array{DType: "|b1", Shape: []int{3}, Data: []byte{0, 1, 2}}, "|b1", nil, []int64{0, 1, 1}, "Float32s"},
		{"u8 overflow", &Array{DType: "<u8", Shape: []int{1}, Data: []byte{0, 0, 0, 0, 0, 0, 0, 0x80}}, "<u8", nil, nil, "fit in int64"},
		{"shape mismatch", FromFloat32([]int{3}, f32), "<f4", nil, nil, "data bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.a.DType != tt.dtype {
				t.Errorf("DType = %q, want %q", tt.a.DType, tt.dtype)
			}
			fs, ferr := tt.a.Float32s()
			is, ierr := tt.a.Int64s()
			if tt.floats != nil {
				if ferr != nil || !reflect.DeepEqual(fs, tt.floats) {
					t.Errorf("Float32s = %v, %v; want %v", fs, ferr, tt.floats)
				}
			}
			if tt.ints != nil {
				if ierr != nil || !reflect.DeepEqual(is, tt.ints) {
					t.Errorf("Int64s = %v, %v; want %v", is, ierr, tt.ints)
				}
			}
			var err error
			switch {
			case tt.floats == nil && tt.ints == nil:
				err = ierr
				if err == nil {
					err = ferr
				}
			case tt.floats == nil:
				err = ferr
			default:
				err = ierr
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error = %v, want one mentioning %q", err, tt.wantErr)
			}
		})
	}
}

func TestHalfNaN(t *testing.T) {
	a := &Array{DType: "<f2", Shape: []int{2}, Data: le16(0x7e00, 0xfc00)}
	fs, err := a.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	if !math.IsNaN(float64(fs[0])) || !math.IsInf(float64(fs[1]), -1) {
		t.Errorf("got %v, want [NaN -Inf]", fs)
	}
}

func TestFromScalarAndEmpty(t *testing.T) {
	tests := []struct {
		a     *Array
		shape []int
		n     int
	}{
		{FromFloat32(nil, []float32{3}), []int{}, 1},
		{FromInt64([]int{}, []int64{3}), []int{}, 1},
		{FromUint8([]int{0, 4}, nil), []int{0, 4}, 0},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.a.Shape, tt.shape) || tt.a.Len() != tt.n {
			t.Errorf("%s: shape %v len %d, want %v %d", tt.a.DType, tt.a.Shape, tt.a.Len(), tt.shape, tt.n)
		}
		var buf bytes.Buffer
		if err := Write(&buf, tt.a); err != nil {
			t.Errorf("%s: Write: %v", tt.a.DType, err)
		}
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		a    *Array
		want string
	}{
		{"mismatch", &Array{DType: "<f4", Shape: []int{2}, Data: make([]byte, 4)}, "data bytes"},
		{"bad dtype", &Array{DType: "<c8", Shape: []int{1}, Data: make([]byte, 8)}, "unsupported dtype"},
		{"big endian", &Array{DType: ">i4", Shape: []int{1}, Data: make([]byte, 4)}, "big-endian"},
		{"negative", &Array{DType: "<f4", Shape: []int{-1}}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.a)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error = %v, want one mentioning %q", err, tt.want)
			}
			dir := t.TempDir()
			path := filepath.Join(dir, "out.npy")
			err = WriteFile(path, tt.a)
			if err == nil || !strings.Contains(err.Error(), path) {
				t.Errorf("WriteFile error = %v, want one naming %s", err, path)
			}
			if ents, _ := os.ReadDir(dir); len(ents) != 0 {
				t.Errorf("WriteFile left %d files behind", len(ents))
			}
		})
	}
}

func TestWriteFileReplaces(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.npy")
	if err := WriteFile(path, FromInt32([]int{1}, []int32{1})); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, FromInt32([]int{2}, []int32{2, 3})); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := a.Int64s(); !reflect.DeepEqual(v, []int64{2, 3}) {
		t.Errorf("got %v after overwrite", v)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("folder has %d entries, want only a.npy", len(ents))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "a.npy"), a); err == nil {
		t.Error("WriteFile into a missing folder succeeded")
	}
}

func le16(v ...uint16) []byte {
	var b []byte
	for _, x := range v {
		b = binary.LittleEndian.AppendUint16(b, x)
	}
	return b
}

// runtimeMem records the cumulative bytes allocated by the process.
type runtimeMem struct{ total uint64 }

func (m *runtimeMem) read() {
	var s runtime.MemStats
	runtime.ReadMemStats(&s)
	m.total = s.TotalAlloc
}
