package learner

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
)

// readNpyFloat32 reads a little-endian, C-order float32 2-D .npy file
// (format 1.0 or 2.0). It is a minimal reader for tests and benchmarks.
func readNpyFloat32(path string) ([]float32, int, int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, 0, 0, err
	}
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" {
		return nil, 0, 0, errors.New("not a .npy file")
	}
	var hlen, off int
	switch b[6] {
	case 1:
		hlen, off = int(binary.LittleEndian.Uint16(b[8:10])), 10
	default:
		hlen, off = int(binary.LittleEndian.Uint32(b[8:12])), 12
	}
	hdr := string(b[off : off+hlen])
	if !strings.Contains(hdr, "'<f4'") || strings.Contains(hdr, "'fortran_order': True") {
		return nil, 0, 0, fmt.Errorf("unsupported header %q", hdr)
	}
	sm := regexp.MustCompile(`'shape':\s*\((\d+),\s*(\d+)\)`).FindStringSubmatch(hdr)
	if sm == nil {
		return nil, 0, 0, fmt.Errorf("not 2-D: %q", hdr)
	}
	V, _ := strconv.Atoi(sm[1])
	D, _ := strconv.Atoi(sm[2])
	body := b[off+hlen:]
	if len(body) < V*D*4 {
		return nil, 0, 0, errors.New("truncated data")
	}
	out := make([]float32, V*D)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(body[i*4:]))
	}
	return out, V, D, nil
}
