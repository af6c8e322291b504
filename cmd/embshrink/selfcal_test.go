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

// compress --self-calibrate on a tiny LM: it says what sampling costs,
// counts the sampled rows, learns in relative error and, with
// --candidates, lists every candidate's divergence and keeps one; the same
// seed writes the same bytes.
func TestCompressSelfCalibrate(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	in := writeTinyLM(t, dir)
	var outs [2][]byte
	for run := range outs {
		out := filepath.Join(dir, "small"+string(rune('a'+run))+".onnx")
		code, stdout, stderr := runCLI("compress", in, "-o", out, "-M", "4", "-K", "16", "--self-calibrate", "12",
			"--self-calibrate-len", "10", "--candidates", "3", "--seed", "4", "--min-table-bytes", "0")
		if code != exitOK {
			t.Fatalf("exit %d: %s", code, stderr)
		}
		for _, want := range []string{"9 forward passes over [20, t]", "start token 1", "\ncompress: sample (ONNX Runtime forward passes) done at step 9/9"} {
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

// compress --self-calibrate without --inputs or --calibration measures its
// output on held-out sequences sampled from another stream of the seed,
// and they change nothing else: the model written is the one written when
// --inputs are given instead.
func TestCompressSelfCalibrateHeldOut(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	in := writeTinyLM(t, dir)
	ids := make([]byte, 8*10*8)
	for i := 0; i < 80; i++ {
		ids[i*8] = byte(i % 4)
	}
	idsFile := filepath.Join(dir, "ids.npy")
	if err := os.WriteFile(idsFile, rawNpy("<i8", "(8, 10)", ids), 0o644); err != nil {
		t.Fatal(err)
	}
	compressed := func(name string, extra ...string) ([]byte, string) {
		t.Helper()
		out := filepath.Join(dir, name)
		args := append([]string{"compress", in, "-o", out, "-M", "4", "-K", "16", "--self-calibrate", "12",
			"--self-calibrate-len", "10", "--min-table-bytes", "0", "--json"}, extra...)
		code, stdout, stderr := runCLI(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", extra, code, stderr)
		}
		var rep struct {
			Fidelity *struct {
				Inputs string `json:"inputs"`
			} `json:"fidelity"`
		}
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || rep.Fidelity == nil {
			t.Fatalf("%v: --json %q: %v; want a fidelity figure", extra, stdout, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		return b, rep.Fidelity.Inputs
	}
	held, heldOn := compressed("held.onnx")
	given, givenOn := compressed("given.onnx", "--inputs", idsFile)
	if want := "8 held-out sequences sampled from the original"; !strings.HasPrefix(heldOn, want) {
		t.Errorf("measured on %q, want %q...", heldOn, want)
	}
	if givenOn != "given --inputs" {
		t.Errorf("with --inputs, measured on %q", givenOn)
	}
	if !bytes.Equal(held, given) {
		t.Error("sampling the held-out sequences changed the model written")
	}
}

// writeTinyLM writes the fixtures' first tiny LM into dir and returns its
// path.
func writeTinyLM(t *testing.T, dir string) string {
	t.Helper()
	f := fixtures.LMs()[0]
	if err := fixtures.Write(dir, f); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, f.FileName())
}
