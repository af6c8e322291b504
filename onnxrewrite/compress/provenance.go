package compress

// Provenance: what compress did to a model, recorded in its metadata_props
// so that the model says it. The entries are deterministic (no time, no
// path): the same input and settings give byte-identical outputs.
//
//	embshrink.version        the tool's version
//	embshrink.source_sha256  sha256 of the source model file, then each of
//	                         its external data files in the model's order
//	embshrink.table.NAME     JSON of TableProvenance

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/bits"
	"os"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Metadata keys.
const (
	MetaVersion     = "embshrink.version"
	MetaSource      = "embshrink.source_sha256"
	MetaTablePrefix = "embshrink.table."
)

// TableProvenance is what was done to one table.
type TableProvenance struct {
	M             int    `json:"m"`
	K             int    `json:"k"`
	Method        string `json:"method"`
	Seed          int64  `json:"seed"`
	CodebookDType string `json:"codebook_dtype"`
	Layout        string `json:"layout"`
	Rows          int64  `json:"rows"`
	// CalibrationRowsRead is how many rows calibration read (0 without
	// calibration); RowsRead is which, a bitmap (bit r%8 of byte r/8 for row
	// r) in standard base64, absent without calibration.
	CalibrationRowsRead int    `json:"calibration_rows_read"`
	RowsRead            string `json:"rows_read,omitempty"`
}

// Read says whether calibration read row r; true for every row without
// calibration.
func (p *TableProvenance) Read(r int64) bool {
	if p.RowsRead == "" {
		return true
	}
	b, err := base64.StdEncoding.DecodeString(p.RowsRead)
	if err != nil || r < 0 || r/8 >= int64(len(b)) {
		return false
	}
	return b[r/8]&(1<<(r%8)) != 0
}

// UnseenShare is the share of ids uniform in [lo, hi) that index rows
// calibration never read (negative ids counting from the end).
func (p *TableProvenance) UnseenShare(lo, hi int64) float64 {
	if p.RowsRead == "" || hi <= lo {
		return 0
	}
	b, err := base64.StdEncoding.DecodeString(p.RowsRead)
	if err != nil {
		return 0
	}
	unseen := 0
	for id := lo; id < hi; id++ {
		r := id
		if r < 0 {
			r += p.Rows
		}
		if r < 0 || r/8 >= int64(len(b)) || b[r/8]&(1<<(r%8)) == 0 {
			unseen++
		}
	}
	return float64(unseen) / float64(hi-lo)
}

// rowsBitmap encodes which rows counts read.
func rowsBitmap(counts []int64) (string, int) {
	b := make([]byte, (len(counts)+7)/8)
	for r, c := range counts {
		if c > 0 {
			b[r/8] |= 1 << (r % 8)
		}
	}
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return base64.StdEncoding.EncodeToString(b), n
}

// RecordProvenance writes the provenance of rep (Compress of source with
// opts) into m's metadata_props, replacing the version, the source and the
// entries of the tables rep compressed; an earlier run's tables keep theirs.
func RecordProvenance(m *model.Model, source, version string, rep *Report, opts Options) error {
	sum, err := sourceSHA256(source)
	if err != nil {
		return err
	}
	mp := m.Proto
	// A table compressed by an earlier run keeps its entry; the version,
	// the source and this run's tables are written anew.
	mine := map[string]bool{MetaVersion: true, MetaSource: true}
	for _, t := range rep.Tables {
		if t.Rewrite != nil {
			mine[MetaTablePrefix+t.Name] = true
		}
	}
	mp.MetadataProps = without(mp.MetadataProps, func(e *onnxpb.StringStringEntryProto) bool { return mine[e.Key] })
	add := func(k, v string) {
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: k, Value: v})
	}
	add(MetaVersion, version)
	add(MetaSource, sum)
	for _, t := range rep.Tables {
		if t.Rewrite == nil {
			continue
		}
		book := t.CodebookDType
		if book == "" {
			book = t.DType // the codebook keeps the table's type
		}
		// t.Seed is the seed of the codes kept, a candidate's with Candidates.
		p := TableProvenance{M: t.M, K: t.K, Method: t.Method, Seed: t.Seed, CodebookDType: book,
			Layout: string(t.Rewrite.Layout), Rows: t.Shape[0]}
		if counts, ok := opts.Counts[t.Name]; ok {
			p.RowsRead, p.CalibrationRowsRead = rowsBitmap(counts)
		}
		js, err := json.Marshal(p)
		if err != nil {
			return err
		}
		add(MetaTablePrefix+t.Name, string(js))
	}
	return nil
}

// ReadProvenance reads the embshrink entries of a model's metadata: the
// version, the source's sha256 and each table's provenance; ok is false
// when the model has none.
func ReadProvenance(m *model.Model) (version, source string, tables map[string]TableProvenance, ok bool) {
	tables = map[string]TableProvenance{}
	for _, e := range m.Proto.MetadataProps {
		switch {
		case e.Key == MetaVersion:
			version, ok = e.Value, true
		case e.Key == MetaSource:
			source = e.Value
		case strings.HasPrefix(e.Key, MetaTablePrefix):
			var p TableProvenance
			if json.Unmarshal([]byte(e.Value), &p) == nil {
				tables[strings.TrimPrefix(e.Key, MetaTablePrefix)] = p
			}
		}
	}
	return version, source, tables, ok
}

// sourceSHA256 hashes the model file and its external data files.
func sourceSHA256(path string) (string, error) {
	src, err := model.Load(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range append([]string{path}, src.ExternalFiles()...) {
		if err := hashFile(h, f); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(w, f)
	return err
}

func without[T any](s []T, drop func(T) bool) []T {
	var out []T
	for _, v := range s {
		if !drop(v) {
			out = append(out, v)
		}
	}
	return out
}
