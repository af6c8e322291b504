package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
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
