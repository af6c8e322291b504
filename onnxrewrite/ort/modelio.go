package ort

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
)

// rtScanModelIO reads the graph inputs and outputs declared in the model file
// without loading its initializers: it walks the protobuf wire format and
// seeks past everything else.
func rtScanModelIO(path string) (map[string]*onnxpb.ValueInfoProto, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc := &rtWireScanner{f: f, br: bufio.NewReader(f)}
	out := map[string]*onnxpb.ValueInfoProto{}
	// ModelProto.graph is field 7; GraphProto.input 11, output 12.
	err = sc.fields(fi.Size(), func(num protowire.Number, typ protowire.Type, n int64) (bool, error) {
		if num != 7 || typ != protowire.BytesType {
			return false, nil
		}
		return true, sc.fields(sc.pos+n, func(num protowire.Number, typ protowire.Type, n int64) (bool, error) {
			if (num != 11 && num != 12) || typ != protowire.BytesType {
				return false, nil
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(sc.br, b); err != nil {
				return true, err
			}
			sc.pos += n
			vi := &onnxpb.ValueInfoProto{}
			if err := proto.Unmarshal(b, vi); err != nil {
				return true, err
			}
			out[vi.GetName()] = vi
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rtWireScanner walks protobuf messages in a file, skipping fields by seeking.
type rtWireScanner struct {
	f   *os.File
	br  *bufio.Reader
	pos int64
}

// fields calls visit for each field up to offset end. For a length-delimited
// field n is its length; visit returns true if it consumed the n bytes.
func (s *rtWireScanner) fields(end int64, visit func(protowire.Number, protowire.Type, int64) (bool, error)) error {
	for s.pos < end {
		tag, err := s.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber {
			return errors.New("invalid protobuf field number")
		}
		var n int64
		switch typ {
		case protowire.VarintType:
			_, err = s.varint()
		case protowire.Fixed32Type:
			err = s.skip(4)
		case protowire.Fixed64Type:
			err = s.skip(8)
		case protowire.BytesType:
			var l uint64
			l, err = s.varint()
			if err == nil && l > uint64(end-s.pos) {
				err = errors.New("protobuf field runs past its message")
			}
			n = int64(l)
		default:
			err = fmt.Errorf("unsupported protobuf wire type %d", typ)
		}
		if err != nil {
			return err
		}
		if typ != protowire.BytesType {
			continue
		}
		start := s.pos
		done, err := visit(num, typ, n)
		if err != nil {
			return err
		}
		if !done {
			if err := s.skip(n); err != nil {
				return err
			}
		} else if s.pos != start+n {
			return errors.New("protobuf message length mismatch")
		}
	}
	if s.pos != end {
		return errors.New("protobuf message runs past its end")
	}
	return nil
}

func (s *rtWireScanner) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := s.br.ReadByte()
		if err != nil {
			return 0, rtNoEOF(err)
		}
		s.pos++
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("invalid protobuf varint")
}

func (s *rtWireScanner) skip(n int64) error {
	if n <= int64(s.br.Buffered()) {
		s.br.Discard(int(n))
		s.pos += n
		return nil
	}
	s.pos += n
	if _, err := s.f.Seek(s.pos, io.SeekStart); err != nil {
		return err
	}
	s.br.Reset(s.f)
	return nil
}

func rtNoEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
