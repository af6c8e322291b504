package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
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
		if tb.Name != "word_embeddings" || !tb.Calibrated || tb.RowsRead == 0 || tb.M != 16 || tb.K != 16 {
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
