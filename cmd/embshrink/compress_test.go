package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
)

type compressJSON struct {
	Tables []struct {
		Name       string  `json:"name"`
		M          int     `json:"m"`
		K          int     `json:"k"`
		Calibrated bool    `json:"calibrated"`
		RowsRead   int     `json:"rows_read"`
		Cached     bool    `json:"cached"`
		Metric     string  `json:"metric"`
		RelSqErr   float64 `json:"rel_sq_err"`
		Skipped    string  `json:"skipped"`
	} `json:"tables"`
	FilesBefore int64 `json:"files_bytes_before"`
	FilesAfter  int64 `json:"files_bytes_after"`
}

// compress on the bundled example: calibration counts are used, the
// readout metric is found, the model shrinks, and a second run with the same
// --codes-dir reuses the codes and writes the same bytes.
func TestCompressCommand(t *testing.T) {
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example")
	dir := t.TempDir()
	codes := filepath.Join(dir, "codes")
	var outs [2][]byte
	for run := 0; run < 2; run++ {
		runDir := filepath.Join(dir, "run"+string(rune('a'+run)))
		if err := os.Mkdir(runDir, 0o755); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(runDir, "small.onnx")
		code, stdout, stderr := runCLI("compress", filepath.Join(ex, "textclf.onnx"), "-o", out, "--ratio", "10",
			"--calibration", filepath.Join(ex, "calibration_ids.npy"), "--codes-dir", codes, "--json")
		if code != exitOK {
			t.Fatalf("run %d: exit %d: %s", run, code, stderr)
		}
		var rep compressJSON
		dec := json.NewDecoder(bytes.NewReader([]byte(stdout)))
		if err := dec.Decode(&rep); err != nil || dec.More() {
			t.Fatalf("run %d: stdout is not one JSON document (%v):\n%s", run, err, stdout)
		}
		if len(rep.Tables) != 1 {
			t.Fatalf("tables %+v", rep.Tables)
		}
		tb := rep.Tables[0]
		// --codebook-dtype auto stores the codebook in float16, which
		// --ratio 10 counts at 2 bytes a value: M=24 fits where a float32
		// codebook allowed M=16.
		if tb.Name != "word_embeddings" || !tb.Calibrated || tb.RowsRead == 0 || tb.M != 24 || tb.K != 16 {
			t.Errorf("run %d: table %+v", run, tb)
		}
		if tb.Cached != (run == 1) {
			t.Errorf("run %d: cached = %v", run, tb.Cached)
		}
		if len(tb.Metric) < 8 || tb.Metric[:8] != "readout:" {
			t.Errorf("metric %q: want the readout through the hidden Gemm", tb.Metric)
		}
		if float64(rep.FilesBefore) < 9*float64(rep.FilesAfter) {
			t.Errorf("files %d -> %d: less than 9x smaller", rep.FilesBefore, rep.FilesAfter)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(out + ".data")
		if err != nil {
			t.Fatal(err)
		}
		outs[run] = append(b, data...)
	}
	if !bytes.Equal(outs[0], outs[1]) {
		t.Error("the run that reused the codes wrote different bytes")
	}
	ents, err := os.ReadDir(codes)
	if err != nil || len(ents) != 2 {
		t.Errorf("codes dir holds %v (%v), want a codes and a codebook .npy", ents, err)
	}
}

// What compress does with tables it would leave alone: with none named, a
// model where every table is left alone is an error and nothing is
// written (a copy under a new name would pass for a result); a table named
// with --table is compressed under the size floor, and one that cannot be
// compressed at all is an error naming it.
func TestCompressLeftAlone(t *testing.T) {
	dir := t.TempDir()
	var small, quantized fixtures.Fixture
	for _, f := range fixtures.Generated() {
		switch f.Name {
		case "ids_int64":
			small = f
		case "quantized_int8":
			quantized = f
		}
	}
	for _, f := range []fixtures.Fixture{small, quantized} {
		if err := fixtures.Write(dir, f); err != nil {
			t.Fatal(err)
		}
	}
	smallPath, quantPath := filepath.Join(dir, small.FileName()), filepath.Join(dir, quantized.FileName())
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string // or stderr when code != 0
	}{
		{"every table under the floor", []string{smallPath}, exitInput,
			`nothing to compress, every table was left alone (emb: no M with K=16 makes codes and codebook 20x smaller than its 19200 bytes (lower the ratio, or give M and K)); nothing written`},
		{"named, with M and K, under the floor", []string{smallPath, "--table", "emb", "-M", "2", "-K", "16"}, exitOK, "emb    [300, 16] float32  2x16 aq"},
		{"named, ratio out of reach", []string{smallPath, "--table", "emb"}, exitInput, `table "emb" was asked for but cannot be compressed: no M with K=16`},
		{"named, codes not smaller", []string{smallPath, "--table", "emb", "-M", "16", "-K", "256"}, exitInput, `table "emb" was asked for but cannot be compressed: codes and codebook at M=16 K=256`},
		{"named, quantized", []string{quantPath, "--table", quantized.Quantized[0]}, exitInput, "was asked for but cannot be compressed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "small.onnx")
			code, stdout, stderr := runCLI(append([]string{"compress", "-o", out}, tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			text := stdout
			if code != exitOK {
				text = stderr
			}
			if !strings.Contains(text, tc.stdout) {
				t.Errorf("output lacks %q:\n%s", tc.stdout, text)
			}
			if _, err := os.Stat(out); (err == nil) != (code == exitOK) {
				t.Errorf("exit %d, output written: %v", code, err == nil)
			}
		})
	}
}
