package model_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// TestSaveRemovesStaleTemps: temporary files a killed save left (its PID
// gone) are removed by the next save into the folder; those of a running
// process, and other files, stay.
func TestSaveRemovesStaleTemps(t *testing.T) {
	dir := t.TempDir()
	path := testkit.WriteExternalModel(t, dir)
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	stale := []string{".out.onnx.999999999.123.tmp", ".out.onnx.data.999999998.77.tmp"}
	kept := []string{
		".out.onnx." + strconv.Itoa(os.Getppid()) + ".5.tmp", // a live process
		".other.onnx.999999999.1.tmp",                        // another output's
		".out.onnx.tmp",                                      // not ours
	}
	for _, n := range append(append([]string{}, stale...), kept...) {
		if err := os.WriteFile(filepath.Join(out, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.Save(filepath.Join(out, "out.onnx"), model.SaveOptions{External: model.ExternalAlways}); err != nil {
		t.Fatal(err)
	}
	for _, n := range stale {
		if _, err := os.Stat(filepath.Join(out, n)); err == nil {
			t.Errorf("stale %s was not removed", n)
		}
	}
	for _, n := range kept {
		if _, err := os.Stat(filepath.Join(out, n)); err != nil {
			t.Errorf("%s was removed: %v", n, err)
		}
	}
}
