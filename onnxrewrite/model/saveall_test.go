package model_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// TestSaveAll saves two models as one: when the second's check fails,
// neither is renamed into place and no temporary file is left (the first's
// check has run and passed by then); when both pass, both are written.
func TestSaveAll(t *testing.T) {
	src := t.TempDir()
	m, err := model.Load(testkit.WriteExternalModel(t, src))
	if err != nil {
		t.Fatal(err)
	}
	errCheck := errors.New("second file refused")
	cases := []struct {
		name    string
		second  func(string) error
		wantErr error
		files   []string
	}{
		{"second check fails", func(string) error { return errCheck }, errCheck, nil},
		{"both pass", nil, nil, []string{"a.onnx", "a.onnx.data", "b.onnx", "b.onnx.data"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := t.TempDir()
			firstChecked := false
			items := []model.SaveItem{
				{Model: m, Path: filepath.Join(out, "a.onnx"), Opts: model.SaveOptions{External: model.ExternalAlways,
					Check: func(string) error { firstChecked = true; return nil }}},
				{Model: m, Path: filepath.Join(out, "b.onnx"), Opts: model.SaveOptions{External: model.ExternalAlways, Check: c.second}},
			}
			err := model.SaveAll(context.Background(), items)
			if !errors.Is(err, c.wantErr) {
				t.Fatalf("SaveAll: %v, want %v", err, c.wantErr)
			}
			if !firstChecked {
				t.Error("the first model's check did not run")
			}
			ents, _ := os.ReadDir(out)
			var got []string
			for _, e := range ents {
				got = append(got, e.Name())
			}
			if strings.Join(got, ",") != strings.Join(c.files, ",") {
				t.Errorf("output folder holds %v, want %v", got, c.files)
			}
		})
	}
	if err := model.SaveAll(context.Background(), []model.SaveItem{{Model: m, Path: filepath.Join(src, "x.onnx")}, {Model: m, Path: filepath.Join(src, "x.onnx")}}); err == nil ||
		!strings.Contains(err.Error(), "written by both") {
		t.Errorf("SaveAll of two items to one path: %v, want an error", err)
	}
}
