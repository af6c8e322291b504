package main

import (
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSIGTERMStopsLongPhase sends SIGTERM to validate while it runs a
// large batch inside ONNX Runtime (a phase that does not look at the
// context): the process must exit 143 within a couple of seconds.
func TestSIGTERMStopsLongPhase(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a long validate")
	}
	valNeedRuntime(t)
	bin := embshrinkBinary(t)
	m := filepath.Join("..", "..", "fixtures", "testdata", "example", "textclf.onnx")
	cmd := exec.Command(bin, "validate", m, m, "--samples", "3000000")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	sent := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	took := time.Since(sent)
	code := cmd.ProcessState.ExitCode()
	if code == exitOK {
		t.Skipf("validate finished before the signal (stderr %q)", stderr.String())
	}
	if code != exitSIGTERM || took > 3*time.Second {
		t.Fatalf("exit %d after %v, want %d within 3s; stderr %q", code, took, exitSIGTERM, stderr.String())
	}
	t.Logf("stopped %v after SIGTERM: %s", took.Round(time.Millisecond), strings.TrimSpace(stderr.String()))
}
