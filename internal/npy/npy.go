// Package npy reads and writes numpy .npy files.
//
// It supports format versions 1.0, 2.0 and 3.0, arrays of little-endian (or
// byte-order-free) booleans, integers and floats: the numpy dtypes f2 f4 f8,
// i1 i2 i4 i8, u1 u2 u4 u8 and b1. Fortran-order files (what np.save writes
// for a transposed view) are read into C order, as np.load returns them with
// the declared shape; big-endian files are rejected with an error. Array data
// is kept as raw little-endian bytes in C order; the accessors convert it to
// Go slices. Writing is always in C order.
//
// The format is described at
// https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html.
package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strings"
)

// Array is an n-dimensional array as stored in an .npy file.
type Array struct {
	// DType is the numpy type descriptor, such as "<f4" or "|u1".
	// Multi-byte types are little-endian ("<"), one-byte types have no
	// byte order ("|").
	DType string
	// Shape holds the dimensions; an empty shape is a scalar.
	Shape []int
	// Data holds the elements as little-endian bytes in C (row-major) order.
	Data []byte
}

var magic = []byte("\x93NUMPY")

const (
	// maxHeaderLen bounds the header dictionary we are willing to read.
	maxHeaderLen = 1 << 20
	// alignment is the multiple of bytes at which the data starts.
	alignment = 64
)

// kind is the numpy type character: 'f', 'i', 'u' or 'b'.
type dtype struct {
	kind byte
	size int
}

func (d dtype) String() string {
	order := byte('<')
	if d.size == 1 {
		order = '|'
	}
	return fmt.Sprintf("%c%c%d", order, d.kind, d.size)
}

// parseDType parses and checks a type descriptor.
func parseDType(s string) (dtype, error) {
	if len(s) != 3 {
		return dtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	d := dtype{kind: s[1], size: int(s[2] - '0')}
	ok := false
	switch d.kind {
	case 'f':
		ok = d.size == 2 || d.size == 4 || d.size == 8
	case 'i', 'u':
		ok = d.size == 1 || d.size == 2 || d.size == 4 || d.size == 8
	case 'b':
		ok = d.size == 1
	}
	if !ok {
		return dtype{}, fmt.Errorf("unsupported dtype %q (want f2 f4 f8 i1 i2 i4 i8 u1 u2 u4 u8 or b1)", s)
	}
	switch s[0] {
	case '<':
	case '|', '=':
		// '=' is native order, which numpy never writes; on the
		// platforms we run on it means little-endian, but be strict
		// about multi-byte types with no order.
		if d.size != 1 {
			return dtype{}, fmt.Errorf("dtype %q: multi-byte type without little-endian '<' byte order", s)
		}
	case '>':
		if d.size != 1 {
			return dtype{}, fmt.Errorf("dtype %q is big-endian; only little-endian data is supported (convert with arr.astype(arr.dtype.newbyteorder('<')))", s)
		}
	default:
		return dtype{}, fmt.Errorf("unsupported dtype %q", s)
	}
	return d, nil
}

// numElements returns the product of the dimensions, or an error if it
// overflows an int.
func numElements(shape []int) (int, error) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, fmt.Errorf("shape %v has too many elements", shape)
		}
		n = lo
	}
	return int(n), nil
}

// dataSize returns the number of data bytes for the shape and type.
func dataSize(shape []int, d dtype) (int, error) {
	n, err := numElements(shape)
	if err != nil {
		return 0, err
	}
	if n > math.MaxInt/d.size {
		return 0, fmt.Errorf("shape %v of %s is too large", shape, d)
	}
	return n * d.size, nil
}

// Len returns the number of elements: the product of the dimensions (1 for
// a scalar). It returns -1 if the shape is invalid.
func (a *Array) Len() int {
	n, err := numElements(a.Shape)
	if err != nil {
		return -1
	}
	return n
}

// check validates a for writing and returns its type.
func (a *Array) check() (dtype, error) {
	d, err := parseDType(a.DType)
	if err != nil {
		return d, err
	}
	size, err := dataSize(a.Shape, d)
	if err != nil {
		return d, err
	}
	if len(a.Data) != size {
		return d, fmt.Errorf("shape %v of %s needs %d data bytes, have %d", a.Shape, d, size, len(a.Data))
	}
	return d, nil
}

// readPrelude reads the magic, version and header. It returns the header
// and the total number of bytes read.
func readPrelude(r io.Reader) (header, dtype, int, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return header{}, dtype{}, 0, fmt.Errorf("reading magic: %w", noEOF(err))
	}
	if !bytes.Equal(pre[:6], magic) {
		return header{}, dtype{}, 0, errors.New("not an .npy file (bad magic)")
	}
	major, minor := pre[6], pre[7]
	var hlen, n int
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, dtype{}, 0, fmt.Errorf("reading header length: %w", noEOF(err))
		}
		hlen, n = int(binary.LittleEndian.Uint16(b[:])), 10
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, dtype{}, 0, fmt.Errorf("reading header length: %w", noEOF(err))
		}
		l := binary.LittleEndian.Uint32(b[:])
		if l > maxHeaderLen {
			return header{}, dtype{}, 0, fmt.Errorf("header length %d is larger than the limit of %d", l, maxHeaderLen)
		}
		hlen, n = int(l), 12
	default:
		return header{}, dtype{}, 0, fmt.Errorf("unsupported format version %d.%d", major, minor)
	}
	if minor != 0 {
		return header{}, dtype{}, 0, fmt.Errorf("unsupported format version %d.%d", major, minor)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return header{}, dtype{}, 0, fmt.Errorf("reading header: %w", noEOF(err))
	}
	n += hlen
	// Versions 1 and 2 use latin-1, version 3 utf-8; a valid header is
	// ASCII either way.
	for _, c := range hb {
		if c >= 0x80 {
			return header{}, dtype{}, 0, errors.New("header is not ASCII")
		}
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return h, dtype{}, 0, err
	}
	d, err := parseDType(h.descr)
	if err != nil {
		return h, d, 0, err
	}
	return h, d, n, nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: every place we read from
// expects more bytes.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Read reads one array from r. It consumes exactly the bytes of the array
// and does not look past its end. Memory for the data grows with the bytes
// actually read, so a header that declares a huge shape over a short stream
// fails without allocating the declared size.
func Read(r io.Reader) (*Array, error) {
	h, d, _, err := readPrelude(r)
	if err != nil {
		return nil, err
	}
	size, err := dataSize(h.shape, d)
	if err != nil {
		return nil, err
	}
	var data []byte
	const direct = 1 << 20
	if size <= direct {
		data = make([]byte, size)
		_, err = io.ReadFull(r, data)
	} else {
		var buf bytes.Buffer
		var m int64
		m, err = io.CopyN(&buf, r, int64(size))
		data = buf.Bytes()
		if err == nil && m != int64(size) {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		return nil, fmt.Errorf("reading %d data bytes for shape %v of %s: %w", size, h.shape, d, noEOF(err))
	}
	return newArray(h, d, data), nil
}

// ReadFile reads the .npy file at path. The file must hold exactly the data
// its header declares; this is checked against the file's size before the
// data is allocated.
func ReadFile(path string) (*Array, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	a, err := readSized(f)
	if err != nil {
		return nil, fmt.Errorf("npy: %s: %w", path, err)
	}
	return a, nil
}

func readSized(f *os.File) (*Array, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	h, d, n, err := readPrelude(br)
	if err != nil {
		return nil, err
	}
	size, err := dataSize(h.shape, d)
	if err != nil {
		return nil, err
	}
	if have := fi.Size() - int64(n); have != int64(size) {
		what := "missing"
		if have > int64(size) {
			what = "trailing"
		}
		return nil, fmt.Errorf("shape %v of %s needs %d data bytes but the file has %d after the header (%s bytes)", h.shape, d, size, have, what)
	}
	data := make([]byte, size)
	if _, err := io.ReadFull(br, data); err != nil {
		return nil, fmt.Errorf("reading data: %w", noEOF(err))
	}
	return newArray(h, d, data), nil
}

// newArray returns the array of the data read after header h, in C order.
func newArray(h header, d dtype, data []byte) *Array {
	if h.fortran {
		data = fortranToC(data, h.shape, d.size)
	}
	return &Array{DType: d.String(), Shape: h.shape, Data: data}
}

// Write writes a in .npy format version 1.0, or 2.0 when the header is too
// long for 1.0. The header is padded with spaces and ends in a newline so
// that the data starts at a multiple of 64 bytes, as numpy does.
func Write(w io.Writer, a *Array) error {
	d, err := a.check()
	if err != nil {
		return err
	}
	dict := formatHeader(d.String(), a.Shape)
	var pre []byte
	for _, v := range []struct {
		major, lenBytes int
		max             uint64
	}{{1, 2, math.MaxUint16}, {2, 4, math.MaxUint32}} {
		fixed := len(magic) + 2 + v.lenBytes
		total := fixed + len(dict) + 1 // +1 for the newline
		total = (total + alignment - 1) / alignment * alignment
		hlen := total - fixed
		if uint64(hlen) > v.max {
			continue
		}
		pre = make([]byte, 0, total)
		pre = append(pre, magic...)
		pre = append(pre, byte(v.major), 0)
		if v.lenBytes == 2 {
			pre = binary.LittleEndian.AppendUint16(pre, uint16(hlen))
		} else {
			pre = binary.LittleEndian.AppendUint32(pre, uint32(hlen))
		}
		pre = append(pre, dict...)
		pre = append(pre, strings.Repeat(" ", hlen-len(dict)-1)...)
		pre = append(pre, '\n')
		break
	}
	if pre == nil {
		return fmt.Errorf("header for shape %v is too long", a.Shape)
	}
	if _, err := w.Write(pre); err != nil {
		return err
	}
	_, err = w.Write(a.Data)
	return err
}

// WriteFile writes a to path atomically: it writes a temporary file in the
// same folder, syncs it and renames it over path, so path never holds a
// partial file.
func WriteFile(path string, a *Array) error {
	if _, err := a.check(); err != nil {
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	if err := writeAtomic(path, func(w io.Writer) error { return Write(w, a) }); err != nil {
		return fmt.Errorf("npy: %s: %w", path, err)
	}
	return nil
}

// writeAtomic writes path through a synced temporary file in the same
// folder, renamed into place once write succeeded.
func writeAtomic(path string, write func(io.Writer) error) (err error) {
	if st, err := os.Lstat(path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("exists and is not a regular file (%s); refusing to replace it", st.Mode().Type())
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	bw := bufio.NewWriterSize(f, 1<<20)
	if err = write(bw); err != nil {
		return err
	}
	if err = bw.Flush(); err != nil {
		return err
	}
	if err = f.Chmod(0o644); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	// Make the rename durable; not all systems can sync a directory.
	if df, derr := os.Open(dir); derr == nil {
		df.Sync()
		df.Close()
	}
	return nil
}
