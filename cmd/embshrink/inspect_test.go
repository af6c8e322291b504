package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
)

// TestInspectSampledCopies: inspect lists a table's copies (transposed or
// not) as confirmed on 16 sampled rows, in the notes and in --json.
func TestInspectSampledCopies(t *testing.T) {
	want := map[string]string{
		"folded_projection": "transposed copy onnx::MatMul_7 (19200 bytes, sampled: 16 rows)",
		"folded_gemm":       "copy lm_head.weight (19200 bytes, sampled: 16 rows)",
	}
	for _, f := range fixtures.Folded() {
		path := testkit.Write(t, f)
		code, out, errOut := runCLI("inspect", path)
		if code != exitOK || !strings.Contains(out, want[f.Name]) {
			t.Errorf("%s: exit %d (stderr %q), output lacks %q:\n%s", f.Name, code, errOut, want[f.Name], out)
		}
		code, out, _ = runCLI("inspect", "--json", path)
		var doc struct {
			Tables []struct {
				Copies []struct {
					Name        string `json:"name"`
					SampledRows int64  `json:"sampled_rows"`
				} `json:"copies"`
			} `json:"tables"`
		}
		if err := json.Unmarshal([]byte(out), &doc); code != exitOK || err != nil {
			t.Fatalf("%s --json: exit %d, %v", f.Name, code, err)
		}
		if len(doc.Tables) != 1 || len(doc.Tables[0].Copies) != 1 || doc.Tables[0].Copies[0].Name != f.Copies[0] || doc.Tables[0].Copies[0].SampledRows != 16 {
			t.Errorf("%s --json: %+v, want copy %s with sampled_rows 16", f.Name, doc.Tables, f.Copies[0])
		}
	}
}
