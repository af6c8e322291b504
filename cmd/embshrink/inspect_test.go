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

// inspect says which tables are rotary caches, computed rather than
// learned, and that compress leaves them out unless named; --json says so
// in computed.
func TestInspectRotaryCaches(t *testing.T) {
	path := fixtures.ZooPath(testkit.RepoRoot(t), "llama")
	code, out, errOut := runCLI("inspect", path)
	for _, want := range []string{"rotary cos cache: computed, not learned", "rotary sin cache: computed, not learned"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("exit %d (stderr %q), output lacks %q:\n%s", code, errOut, want, out)
		}
	}
	code, out, _ = runCLI("inspect", "--json", path)
	var doc struct {
		Tables []struct {
			Name     string `json:"name"`
			Computed string `json:"computed"`
		} `json:"tables"`
	}
	if err := json.Unmarshal([]byte(out), &doc); code != exitOK || err != nil {
		t.Fatalf("--json: exit %d, %v", code, err)
	}
	got := map[string]string{}
	for _, tb := range doc.Tables {
		got[tb.Name] = tb.Computed
	}
	if got["cos_cached"] != "rotary cos cache" || got["sin_cached"] != "rotary sin cache" || got["emb.weight"] != "" {
		t.Errorf("--json computed: %q", got)
	}
}
