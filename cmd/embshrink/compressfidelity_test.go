package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/internal/npy"
)

// compareJSON is the part of validate's report the fidelity tests read.
type compareJSON struct {
	Inputs []struct {
		Name   string  `json:"name"`
		Shape  []int64 `json:"shape"`
		Source string  `json:"source"`
	} `json:"inputs"`
	Outputs []struct {
		Name      string   `json:"name"`
		Cosine    float64  `json:"cosine"`
		Agreement *float64 `json:"agreement"`
		Pass      bool     `json:"pass"`
	} `json:"outputs"`
	Pass bool `json:"pass"`
}

// fidelityJSON is the part of compress's --json the fidelity tests read.
type fidelityJSON struct {
	Tables []struct {
		Name string `json:"name"`
		M    int    `json:"m"`
		K    int    `json:"k"`
	} `json:"tables"`
	Choice *struct {
		Table  string `json:"table"`
		Points []struct {
			Setting  string  `json:"setting"`
			M        int     `json:"m"`
			K        int     `json:"k"`
			Bytes    int64   `json:"bytes"`
			Fidelity float64 `json:"fidelity"`
			Pass     bool    `json:"pass"`
		} `json:"points"`
		Chosen int `json:"chosen"`
		Best   int `json:"best"`
	} `json:"choice"`
	Fidelity *struct {
		Inputs  string      `json:"inputs"`
		Pass    bool        `json:"pass"`
		Compare compareJSON `json:"compare"`
	} `json:"fidelity"`
	FidelityNote string `json:"fidelity_note"`
}

// fidelityExample is the bundled example's model, calibration and held-out
// ids, and the flags that make its learning quick.
func fidelityExample(t *testing.T) (model, cal, heldout string, quick []string) {
	t.Helper()
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example")
	return filepath.Join(ex, "textclf.onnx"), filepath.Join(ex, "calibration_ids.npy"), filepath.Join(ex, "heldout_ids.npy"),
		[]string{"--iterations", "8"}
}

// lastFifth writes the last fifth of the calibration ids' rows, the rows
// compress holds back, to a file of their own.
func lastFifth(t *testing.T, cal string) string {
	t.Helper()
	a, err := npy.ReadFile(cal)
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	rows, cols := a.Shape[0], a.Shape[1]
	cut := rows - rows/5
	out := filepath.Join(t.TempDir(), "held.npy")
	if err := npy.WriteFile(out, npy.FromInt64([]int{rows - cut, cols}, v[cut*cols:])); err != nil {
		t.Fatal(err)
	}
	return out
}

// validateJSON runs validate on the two models and returns its report.
func validateJSON(t *testing.T, args ...string) compareJSON {
	t.Helper()
	code, stdout, stderr := runCLI(append([]string{"validate", "--json"}, args...)...)
	if code != exitOK && code != exitOutside {
		t.Fatalf("validate %v: exit %d: %s", args, code, stderr)
	}
	var rep compareJSON
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("validate --json: %v\n%s", err, stdout)
	}
	return rep
}

// TestCompressFidelity: compress's figure is validate's, on the given
// --inputs or on the held-back last fifth of --calibration (and then the
// same as validate's on those rows), or a line says it was not measured;
// a gate flag with -M/-K writes the model and exits 1 when the figure is
// below, and a gate with no inputs to measure on is refused before
// anything is written.
func TestCompressFidelity(t *testing.T) {
	model, cal, heldout, quick := fidelityExample(t)
	held := lastFifth(t, cal)
	codes := filepath.Join(t.TempDir(), "codes")
	for _, tc := range []struct {
		name string
		args []string
		code int
		// source is what the figure is said to be on, "" for none; rows
		// the rows it was measured on; validateOn the --inputs that give
		// validate the same figure.
		source     string
		rows       int64
		validateOn string
		text       string // in stdout, or in stderr when code != 0
		written    bool
	}{
		{"given inputs", []string{"--ratio", "10", "--calibration", cal, "--inputs", "ids=" + heldout}, exitOK,
			"given --inputs", 2048, heldout, "fidelity on given --inputs: PASS", true},
		{"held-back calibration", []string{"--ratio", "10", "--calibration", cal}, exitOK,
			"held-back calibration inputs (last 102 of 512 rows", 102, held, "fidelity on held-back calibration inputs", true},
		{"not measured", []string{"--ratio", "10"}, exitOK, "", 0, "", "fidelity: not measured (no held-out inputs); give --inputs", true},
		{"gate below, M and K given", []string{"-M", "2", "-K", "16", "--min-agreement", "0.999", "--inputs", "ids=" + heldout}, exitOutside,
			"given --inputs", 2048, heldout, "fidelity below the gate: output(s) probs fail on given --inputs", true},
		{"gate with no inputs", []string{"-M", "2", "-K", "16", "--min-agreement", "0.99"}, exitInput, "", 0, "",
			"is measured on held-out inputs: give --inputs", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "small.onnx")
			args := append(append([]string{"compress", model, "-o", out, "--codes-dir", codes}, quick...), tc.args...)
			code, stdout, stderr := runCLI(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			text := stdout
			if code != exitOK {
				text = stderr
			}
			if !strings.Contains(text, tc.text) {
				t.Errorf("output lacks %q:\n%s", tc.text, text)
			}
			if _, err := os.Stat(out); (err == nil) != tc.written {
				t.Fatalf("output written: %v, want %v", err == nil, tc.written)
			}
			if !tc.written {
				return
			}
			code, stdout, stderr = runCLI(append(args, "--json")...)
			if code != tc.code {
				t.Fatalf("--json: exit %d, want %d: %s", code, tc.code, stderr)
			}
			var rep fidelityJSON
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
				t.Fatalf("--json: %v\n%s", err, stdout)
			}
			checkFigure(t, rep, tc.source, tc.rows, model, out, tc.validateOn)
		})
	}
}

// checkFigure wants the --json figure on source over rows, and equal to
// validate's on validateOn; or, with no source, the not-measured note.
func checkFigure(t *testing.T, rep fidelityJSON, source string, rows int64, model, out, validateOn string) {
	t.Helper()
	if source == "" {
		if rep.Fidelity != nil || !strings.HasPrefix(rep.FidelityNote, "fidelity: not measured") {
			t.Errorf("figure %+v, note %q: want none, and the note", rep.Fidelity, rep.FidelityNote)
		}
		return
	}
	fig := rep.Fidelity
	if fig == nil || !strings.HasPrefix(fig.Inputs, source) || len(fig.Compare.Inputs) != 1 || fig.Compare.Inputs[0].Shape[0] != rows {
		t.Fatalf("figure %+v: want one on %q over %d rows", fig, source, rows)
	}
	want := validateJSON(t, model, out, "--inputs", "ids="+validateOn)
	if len(want.Outputs) != 1 || len(fig.Compare.Outputs) != 1 {
		t.Fatalf("outputs %+v, validate's %+v: want probs alone", fig.Compare.Outputs, want.Outputs)
	}
	got, w := fig.Compare.Outputs[0], want.Outputs[0]
	if got.Agreement == nil || w.Agreement == nil || *got.Agreement != *w.Agreement || got.Cosine != w.Cosine || got.Pass != w.Pass || fig.Pass != want.Pass {
		t.Errorf("compress's figure %+v differs from validate's %+v on %s", got, w, validateOn)
	}
}

// TestCompressChoose: --min-agreement without -M/-K writes the smallest
// setting of the sweep grid that meets the gate: validate confirms the
// written model meets it, every smaller setting measured fails it, and the
// sweep command recommends the same setting. A gate no setting can meet
// (agreement and cosine 1 with no tolerance) exits 1 naming the best
// setting and writes nothing.
func TestCompressChoose(t *testing.T) {
	model, cal, heldout, quick := fidelityExample(t)
	codes := filepath.Join(t.TempDir(), "codes")
	common := append([]string{model, "--calibration", cal, "--inputs", "ids=" + heldout, "--codes-dir", codes}, quick...)
	for _, tc := range []struct {
		name string
		gate []string
		code int
	}{
		{"meets 0.99", []string{"--min-agreement", "0.99"}, exitOK},
		{"impossible", []string{"--min-agreement", "1", "--min-cosine", "1", "--atol", "0", "--rtol", "0"}, exitOutside},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "small.onnx")
			args := append(append(append([]string{"compress", "-o", out}, common...), tc.gate...), "--json")
			code, stdout, stderr := runCLI(args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d: %s", code, tc.code, stderr)
			}
			var rep fidelityJSON
			if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Choice == nil || len(rep.Choice.Points) < 2 {
				t.Fatalf("--json: %v, want the choice over the grid:\n%s", err, stdout)
			}
			ch := rep.Choice
			if tc.code != exitOK {
				if _, err := os.Stat(out); err == nil {
					t.Errorf("%s written though no setting met the gate", out)
				}
				best := ch.Points[ch.Best]
				if ch.Chosen != -1 || !strings.Contains(stderr, "the best, "+best.Setting+", ") || !strings.Contains(stderr, "nothing written") {
					t.Errorf("chosen %d, stderr %q: want none chosen and the best, %s, named", ch.Chosen, stderr, best.Setting)
				}
				for _, p := range ch.Points {
					if p.Pass || p.Fidelity > best.Fidelity {
						t.Errorf("point %+v: passes or beats the best named, %+v", p, best)
					}
				}
				return
			}
			chosen := ch.Points[ch.Chosen]
			if !chosen.Pass || len(rep.Tables) != 1 || rep.Tables[0].M != chosen.M || rep.Tables[0].K != chosen.K {
				t.Fatalf("chosen %+v, written %+v: want a passing setting, written", chosen, rep.Tables)
			}
			for _, p := range ch.Points {
				if p.Bytes < chosen.Bytes && p.Pass {
					t.Errorf("%+v passes and is smaller than the chosen %+v", p, chosen)
				}
			}
			if v := validateJSON(t, model, out, "--inputs", "ids="+heldout, "--min-agreement", "0.99"); !v.Pass || *v.Outputs[0].Agreement < 0.99 {
				t.Errorf("validate of the written model: %+v, want agreement >= 0.99", v.Outputs)
			}
			code, stdout, stderr = runCLI(append([]string{"sweep", "--references", "none", "--min-agreement", "0.99", "--json"}, common...)...)
			var sw struct {
				Points []struct {
					Label string `json:"label"`
				} `json:"points"`
				Recommended int `json:"recommended"`
			}
			if err := json.Unmarshal([]byte(stdout), &sw); code != exitOK || err != nil || sw.Recommended < 0 {
				t.Fatalf("sweep: exit %d, %v: %s", code, err, stderr)
			}
			if got := sw.Points[sw.Recommended].Label; got != chosen.Setting {
				t.Errorf("sweep recommends %s, compress chose %s", got, chosen.Setting)
			}
		})
	}
}
