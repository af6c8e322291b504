package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// The benchmark streams .npy files: a float32 [rows, cols] table is never
// held in memory here.

// npyHeaderLen is the fixed size this command gives a version 1.0 header,
// so that the shape can be written last, once the rows are counted.
const npyHeaderLen = 128

// npyF32Header is the header of a little-endian float32 C-order [rows,
// cols] array, padded with spaces to npyHeaderLen bytes.
func npyF32Header(rows, cols int) []byte {
	dict := fmt.Sprintf("{'descr': '<f4', 'fortran_order': False, 'shape': (%d, %d), }", rows, cols)
	pad := npyHeaderLen - 10 - len(dict) - 1
	if pad < 0 {
		panic("npy header too long")
	}
	h := make([]byte, 0, npyHeaderLen)
	h = append(h, "\x93NUMPY\x01\x00"...)
	h = binary.LittleEndian.AppendUint16(h, uint16(npyHeaderLen-10))
	h = append(h, dict...)
	h = append(h, strings.Repeat(" ", pad)...)
	return append(h, '\n')
}

// npyWriter writes float32 rows to a .npy file whose shape is filled in by
// Close.
type npyWriter struct {
	f    *os.File
	w    *bufio.Writer
	cols int
	rows int
	buf  []byte
}

func createNpy(path string, cols int) (*npyWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if _, err := w.Write(npyF32Header(0, cols)); err != nil {
		f.Close()
		return nil, err
	}
	return &npyWriter{f: f, w: w, cols: cols, buf: make([]byte, 4*cols)}, nil
}

// WriteRow appends one row of cols values, given as float64 and stored as
// float32 (the nearest, as numpy's astype does).
func (n *npyWriter) WriteRow(v []float64) error {
	if len(v) != n.cols {
		return fmt.Errorf("row %d has %d values, want %d", n.rows, len(v), n.cols)
	}
	for j, x := range v {
		binary.LittleEndian.PutUint32(n.buf[4*j:], math.Float32bits(float32(x)))
	}
	n.rows++
	_, err := n.w.Write(n.buf)
	return err
}

// Close writes the final header and closes the file.
func (n *npyWriter) Close() error {
	if err := n.w.Flush(); err != nil {
		n.f.Close()
		return err
	}
	if _, err := n.f.WriteAt(npyF32Header(n.rows, n.cols), 0); err != nil {
		n.f.Close()
		return err
	}
	return n.f.Close()
}

var (
	npyDescrRe = regexp.MustCompile(`'descr':\s*'([^']*)'`)
	npyShapeRe = regexp.MustCompile(`'shape':\s*\(([^)]*)\)`)
	npyFortRe  = regexp.MustCompile(`'fortran_order':\s*(True|False)`)
)

// npyReader reads the data of a float32 [rows, cols] .npy file after its
// header, without reading the data up front.
type npyReader struct {
	*bufio.Reader
	f          *os.File
	rows, cols int
}

func openNpyF32(path string) (*npyReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	r := bufio.NewReaderSize(f, 1<<20)
	fail := func(format string, a ...any) (*npyReader, error) {
		f.Close()
		return nil, fmt.Errorf("%s: "+format, append([]any{path}, a...)...)
	}
	pre := make([]byte, 8)
	if _, err := io.ReadFull(r, pre); err != nil || string(pre[:6]) != "\x93NUMPY" {
		return fail("not a .npy file")
	}
	var hlen int
	switch pre[6] {
	case 1:
		b := make([]byte, 2)
		if _, err := io.ReadFull(r, b); err != nil {
			return fail("short header")
		}
		hlen = int(binary.LittleEndian.Uint16(b))
	case 2, 3:
		b := make([]byte, 4)
		if _, err := io.ReadFull(r, b); err != nil {
			return fail("short header")
		}
		hlen = int(binary.LittleEndian.Uint32(b))
	default:
		return fail("npy version %d", pre[6])
	}
	if hlen > 1<<20 {
		return fail("header of %d bytes", hlen)
	}
	h := make([]byte, hlen)
	if _, err := io.ReadFull(r, h); err != nil {
		return fail("short header")
	}
	d, s, fo := npyDescrRe.FindSubmatch(h), npyShapeRe.FindSubmatch(h), npyFortRe.FindSubmatch(h)
	if d == nil || s == nil || fo == nil {
		return fail("cannot read header %q", h)
	}
	if string(d[1]) != "<f4" || string(fo[1]) != "False" {
		return fail("dtype %s fortran_order %s: want <f4, C order", d[1], fo[1])
	}
	var dims []int
	for _, p := range strings.Split(string(s[1]), ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 {
			return fail("shape %q", s[1])
		}
		dims = append(dims, n)
	}
	if len(dims) != 2 {
		return fail("shape %v: want [rows, cols]", dims)
	}
	return &npyReader{Reader: r, f: f, rows: dims[0], cols: dims[1]}, nil
}

func (n *npyReader) Close() error { return n.f.Close() }

// readRow reads the next row of cols float32 values into dst.
func (n *npyReader) readRow(dst []float32, buf []byte) error {
	if _, err := io.ReadFull(n.Reader, buf[:4*n.cols]); err != nil {
		return err
	}
	for j := range dst[:n.cols] {
		dst[j] = math.Float32frombits(binary.LittleEndian.Uint32(buf[4*j:]))
	}
	return nil
}
