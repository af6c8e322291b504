package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestSweepExample sweeps the bundled example on a small grid: the JSON
// has every point with its validation, the HTML report has every point,
// the recommendation's command is printed, and a second sweep takes every
// code setting from the cache.
func TestSweepExample(t *testing.T) {
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example")
	dir := t.TempDir()
	report := filepath.Join(dir, "sweep.html")
	args := []string{"sweep", filepath.Join(ex, "textclf.onnx"), "--calibration", filepath.Join(ex, "calibration_ids.npy"),
		"--inputs", "ids=" + filepath.Join(ex, "heldout_ids.npy"), "-M", "4,16,200", "-K", "16",
		"--references", "float16,int8-row", "--codes-dir", filepath.Join(dir, "codes"), "--report", report}
	code, stdout, stderr := runCLI(append(args, "--json")...)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Points []struct {
			Label  string `json:"label"`
			Kind   string `json:"kind"`
			Bytes  int64  `json:"bytes"`
			Cached bool   `json:"cached"`
			Pass   bool   `json:"pass"`
		} `json:"points"`
		Skipped     []struct{ Label, Note string } `json:"skipped"`
		Recommended int                            `json:"recommended"`
		Command     string                         `json:"command"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil {
		t.Fatalf("--json: %v\n%s", err, stdout)
	}
	if len(res.Points) != 4 || len(res.Skipped) != 1 || res.Skipped[0].Label != "200x16" {
		t.Fatalf("points %+v, skipped %+v; want 4 points and 200x16 skipped", res.Points, res.Skipped)
	}
	html, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range res.Points {
		if p.Bytes <= 0 || p.Cached {
			t.Errorf("point %+v: want bytes and freshly learned codes", p)
		}
		if !strings.Contains(string(html), `data-label="`+p.Label+`"`) {
			t.Errorf("report lacks point %s", p.Label)
		}
	}
	code, stdout, stderr = runCLI(args...)
	if code != exitOK {
		t.Fatalf("second sweep: exit %d: %s", code, stderr)
	}
	if strings.Count(stderr, ": cached,") != 2 {
		t.Errorf("second sweep did not take both code settings from the cache:\n%s", stderr)
	}
	if res.Recommended >= 0 && !strings.Contains(stdout, res.Command) {
		t.Errorf("stdout lacks the command %q:\n%s", res.Command, stdout)
	}
}

// TestSweepSearchFlags wants sweep's search flags to reach the learner (a
// code setting's table error changes with --restarts) and the recommended
// compress command to carry them, so that it gives the codes the sweep
// validated.
func TestSweepSearchFlags(t *testing.T) {
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example")
	dir := t.TempDir()
	sweepWith := func(extra ...string) (float64, string) {
		t.Helper()
		args := append([]string{"sweep", filepath.Join(ex, "textclf.onnx"), "--calibration", filepath.Join(ex, "calibration_ids.npy"),
			"--inputs", "ids=" + filepath.Join(ex, "heldout_ids.npy"), "-M", "16", "-K", "16", "--references", "none",
			"--codes-dir", filepath.Join(dir, "codes"), "--json"}, extra...)
		code, stdout, stderr := runCLI(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		var res struct {
			Points []struct {
				TableRelSqErr float64 `json:"table_rel_sq_err"`
			} `json:"points"`
			Recommended int    `json:"recommended"`
			Command     string `json:"command"`
		}
		if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Points) != 1 {
			t.Fatalf("%v: --json %q: %v", extra, stdout, err)
		}
		if res.Recommended != 0 {
			t.Fatalf("%v: recommended %d, want the one code setting (it passes the gate)", extra, res.Recommended)
		}
		return res.Points[0].TableRelSqErr, res.Command
	}
	base, _ := sweepWith("--iterations", "2")
	got, cmd := sweepWith("--iterations", "2", "--restarts", "-1", "--anneal", "0.2")
	if got == base {
		t.Errorf("--restarts -1 --anneal 0.2: table error %g, the same as without: the flags did not reach the learner", got)
	}
	for _, want := range []string{"--iterations 2", "--restarts -1", "--anneal 0.2"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("recommended command %q lacks %q", cmd, want)
		}
	}
}

// sweep takes --dim as validate does: the generated inputs of every point
// have the sizes asked for, and a malformed one exits 2.
func TestSweepDims(t *testing.T) {
	valNeedRuntime(t)
	model := filepath.Join("..", "..", "fixtures", "testdata", "zoo", "fasttext_mask.onnx")
	args := []string{"sweep", model, "-M", "2", "--references", "none", "--iterations", "2", "--codes-dir", t.TempDir(), "--json"}
	code, stdout, stderr := runCLI(append(args, "--dim", "sequence=5", "--dim", "batch=3")...)
	if code != exitOK && code != exitOutside {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var res struct {
		Points []struct {
			Compare struct {
				Inputs []struct {
					Name  string  `json:"name"`
					Shape []int64 `json:"shape"`
				} `json:"inputs"`
			} `json:"compare"`
		} `json:"points"`
	}
	if err := json.Unmarshal([]byte(stdout), &res); err != nil || len(res.Points) != 1 {
		t.Fatalf("--json %q: %v", stdout, err)
	}
	for _, in := range res.Points[0].Compare.Inputs {
		if fmt.Sprint(in.Shape) != "[3 5]" {
			t.Errorf("input %s has shape %v, want [3 5] from --dim", in.Name, in.Shape)
		}
	}
	if code, _, stderr := runCLI(append(args, "--dim", "bad")...); code != exitInput || !strings.Contains(stderr, `--dim "bad": want NAME=VALUE`) {
		t.Errorf("--dim bad: exit %d, %q; want 2 naming the flag", code, stderr)
	}
}

// TestSweepCommandReproduces runs the recommended compress command that a
// sweep prints: it must take the sweep's codes from the cache and measure
// the model on the inputs the sweep measured it on, to the same figures,
// with --inputs and with the last fifth of --calibration held back.
func TestSweepCommandReproduces(t *testing.T) {
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example")
	lm := writeTinyLM(t, t.TempDir())
	textclf := []string{filepath.Join(ex, "textclf.onnx"), "--calibration", filepath.Join(ex, "calibration_ids.npy"), "--min-agreement", "0.5", "-M", "16"}
	for _, tc := range []struct {
		name, on string
		args     []string
	}{
		{"inputs", "given --inputs", append(textclf, "--inputs", "ids="+filepath.Join(ex, "heldout_ids.npy"))},
		{"held-back", "held-back calibration inputs", textclf},
		{"self-calibrated", "8 held-out sequences sampled from the original", []string{lm,
			"--self-calibrate", "12", "--self-calibrate-len", "10", "--min-agreement", "0.01", "--min-cosine", "-1", "-M", "4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			args := slices.Concat([]string{"sweep"}, tc.args, []string{"-K", "16", "--iterations", "2", "--references", "none",
				"--codes-dir", filepath.Join(dir, "codes"), "--json"})
			code, stdout, stderr := runCLI(args...)
			if code != exitOK {
				t.Fatalf("sweep: exit %d: %s", code, stderr)
			}
			var sw struct {
				Points []struct {
					Compare struct {
						Outputs json.RawMessage `json:"outputs"`
					} `json:"compare"`
				} `json:"points"`
				Command    string `json:"command"`
				MeasuredOn string `json:"measured_on"`
			}
			if err := json.Unmarshal([]byte(stdout), &sw); err != nil || len(sw.Points) != 1 || sw.Command == "" {
				t.Fatalf("sweep --json %q: %v; want one point and a command", stdout, err)
			}
			if !strings.HasPrefix(sw.MeasuredOn, tc.on) {
				t.Errorf("measured on %q, want %q", sw.MeasuredOn, tc.on)
			}
			words := shellWords(t, sw.Command)
			for i, w := range words {
				if w == "-o" {
					words[i+1] = filepath.Join(dir, "out.onnx")
				}
			}
			if !slices.Contains(words, "--min-agreement") {
				t.Errorf("command %q lacks the sweep's gate", sw.Command)
			}
			code, stdout, stderr = runCLI(append(words[1:], "--json")...)
			if code != exitOK {
				t.Fatalf("%s: exit %d: %s", sw.Command, code, stderr)
			}
			var cp struct {
				Tables []struct {
					Cached bool `json:"cached"`
				} `json:"tables"`
				Fidelity *struct {
					Inputs  string `json:"inputs"`
					Compare struct {
						Outputs json.RawMessage `json:"outputs"`
					} `json:"compare"`
				} `json:"fidelity"`
			}
			if err := json.Unmarshal([]byte(stdout), &cp); err != nil || len(cp.Tables) != 1 || cp.Fidelity == nil {
				t.Fatalf("compress --json %q: %v; want one table and a figure", stdout, err)
			}
			if !cp.Tables[0].Cached {
				t.Errorf("%s learned its codes anew: the sweep's were learned on other row weights", sw.Command)
			}
			if cp.Fidelity.Inputs != sw.MeasuredOn {
				t.Errorf("compress measured on %q, the sweep on %q", cp.Fidelity.Inputs, sw.MeasuredOn)
			}
			if got, want := compactJSON(t, cp.Fidelity.Compare.Outputs), compactJSON(t, sw.Points[0].Compare.Outputs); got != want {
				t.Errorf("compress's figures differ from the sweep's:\n got %s\nwant %s", got, want)
			}
		})
	}
}

// compactJSON is raw without its indentation.
func compactJSON(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return b.String()
}

// shellWords splits a command that shellQuote quoted.
func shellWords(t *testing.T, cmd string) []string {
	t.Helper()
	var words []string
	var w strings.Builder
	in, started := false, false
	for _, r := range cmd {
		switch {
		case r == '\'':
			in, started = !in, true
		case r == ' ' && !in:
			if started {
				words = append(words, w.String())
			}
			w.Reset()
			started = false
		default:
			w.WriteRune(r)
			started = true
		}
	}
	if in {
		t.Fatalf("unbalanced quotes in %q", cmd)
	}
	if started {
		words = append(words, w.String())
	}
	return words
}
