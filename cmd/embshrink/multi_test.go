package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
)

// TestFolderCommands runs inspect, compress and validate on the zoo's
// encoder-decoder folder: inspect lists the shared table once with both
// files; compress learns it once (stderr: one "learning codes" line, and
// the decoder given the codes), writes both files under their names in the
// output folder and reports the folder's bytes, smaller after; validate
// of the two folders runs every pair (exit 0 or 1, never 2); a
// --calibration without a file name and an output folder that does not
// exist exit 2 writing nothing.
func TestFolderCommands(t *testing.T) {
	valNeedRuntime(t)
	dir := fixtures.ZooDir(testkit.RepoRoot(t), "t5_pair")
	code, stdout, stderr := runCLI("inspect", dir)
	if code != 0 || !strings.Contains(stdout, "1 held by several files") ||
		!regexp.MustCompile(`pair\.shared\.weight\s+\[32000, 16\]\s+float32\s+2048000\s+encoder_model\.onnx, decoder_model\.onnx`).MatchString(stdout) {
		t.Errorf("inspect %s: exit %d\n%s%s", dir, code, stdout, stderr)
	}
	out := t.TempDir()
	code, stdout, stderr = runCLI("compress", dir, "-o", out, "-M", "2", "-K", "16", "--iterations", "2", "--restarts", "1")
	if code != 0 {
		t.Fatalf("compress: exit %d\n%s%s", code, stdout, stderr)
	}
	if n := strings.Count(stderr, "learning codes"); n != 1 {
		t.Errorf("compress learned %d times, want once:\n%s", n, stderr)
	}
	if !strings.Contains(stderr, "decoder_model.onnx: pair.shared.weight: codes learned for the same table in an earlier file") {
		t.Errorf("compress stderr does not say the decoder was given the codes:\n%s", stderr)
	}
	m := regexp.MustCompile(`model files: (\d+) -> (\d+) bytes`).FindStringSubmatch(stdout)
	if m == nil || atoi(t, m[2]) >= atoi(t, m[1]) {
		t.Errorf("compress does not report the folder smaller:\n%s", stdout)
	}
	for _, f := range []string{"encoder_model.onnx", "decoder_model.onnx"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}
	if code, stdout, stderr := runCLI("validate", dir, out, "--samples", "2"); code == 2 || strings.Count(stdout, "== ") != 2 {
		t.Errorf("validate of the folders: exit %d\n%s%s", code, stdout, stderr)
	}
	for _, args := range [][]string{
		{"compress", dir, "-o", t.TempDir(), "--calibration", "ids.npy"},
		{"compress", dir, "-o", filepath.Join(out, "missing")},
	} {
		if code, _, stderr := runCLI(args...); code != 2 {
			t.Errorf("%v: exit %d, want 2\n%s", args, code, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "missing")); err == nil {
		t.Error("a refused compress made its output folder")
	}
}

func atoi(t *testing.T, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
