package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
)

// compress --self-calibrate on a tiny LM: it says what sampling costs,
// counts the sampled rows, learns in relative error and, with
// --candidates, lists every candidate's divergence and keeps one; the same
// seed writes the same bytes.
func TestCompressSelfCalibrate(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	f := fixtures.LMs()[0]
	if err := fixtures.Write(dir, f); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, f.FileName())
	var outs [2][]byte
	for run := range outs {
		out := filepath.Join(dir, "small"+string(rune('a'+run))+".onnx")
		code, stdout, stderr := runCLI("compress", in, "-o", out, "-M", "4", "-K", "16", "--self-calibrate", "12",
			"--self-calibrate-len", "10", "--candidates", "3", "--seed", "4", "--min-table-bytes", "0")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"9 forward passes over [20, t]", "start token 1"} {
			if !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
		}
		for _, want := range []string{"calibrated (", "relative error", "candidate seed 4", "candidate seed 6", "<- kept"} {
			if !strings.Contains(stdout, want) {
				t.Errorf("stdout lacks %q:\n%s", want, stdout)
			}
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		outs[run] = b
	}
	if string(outs[0]) != string(outs[1]) {
		t.Error("the same seed wrote different models")
	}
	code, _, stderr := runCLI("compress", in, "-o", filepath.Join(dir, "x.onnx"), "-M", "4", "-K", "16", "--candidates", "2")
	if code != exitInput || !strings.Contains(stderr, "give --calibration or --self-calibrate") {
		t.Errorf("--candidates alone: exit %d, %s", code, stderr)
	}
}
