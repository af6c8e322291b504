package sweep

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite"
)

// Grid bounds of DefaultGrid: the ratios of table bytes to codes and
// codebook bytes it spans.
const (
	GridMinRatio = 5
	GridMaxRatio = 100
)

// gridCandidates are the settings DefaultGrid picks from.
var gridCandidates = []Setting{
	{2, 16}, {4, 16}, {8, 16}, {16, 16}, {32, 16}, {64, 16},
	{4, 256}, {8, 256}, {16, 256},
}

// DefaultGrid is the settings that shrink a [rows, cols] table of
// tableBytes between GridMinRatio and GridMaxRatio times: M in 2..64 at
// K=16, and M in 4..16 at K=256.
func DefaultGrid(rows, cols, tableBytes int64) []Setting {
	var out []Setting
	for _, st := range gridCandidates {
		r := float64(tableBytes) / float64(CodedBytes(rows, cols, tableBytes, st, false))
		if r >= GridMinRatio && r <= GridMaxRatio {
			out = append(out, st)
		}
	}
	return out
}

// CodedBytes is what codes and codebook at st take for a [rows, cols] table
// of tableBytes (the codebook keeps the table's element size).
func CodedBytes(rows, cols, tableBytes int64, st Setting, noPack bool) int64 {
	es := tableBytes / max(rows*cols, 1)
	perByte := int64(onnxrewrite.CodesPerByte(st.K))
	if noPack {
		perByte = 1
	}
	codes := rows * ((int64(st.M) + perByte - 1) / perByte)
	if st.K > 256 {
		codes = rows * int64(st.M) * 2
	}
	return codes + int64(st.M)*int64(st.K)*cols*es
}

// Grid is the settings of every M with every K.
func Grid(ms, ks []int) []Setting {
	var out []Setting
	for _, k := range ks {
		for _, m := range ms {
			out = append(out, Setting{M: m, K: k})
		}
	}
	return out
}

// ParseInts reads a comma-separated list of positive integers, as in
// "-M 8,12,16".
func ParseInts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		v, err := strconv.Atoi(f)
		if err != nil || v <= 0 {
			return nil, fmt.Errorf("%q: want positive integers separated by commas", s)
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%q: no value", s)
	}
	return out, nil
}
