package multi_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/multi"
)

// TestFilesWithoutTables: a file with no embedding table joins the job
// unchanged (and is written), a job where no file shrinks is
// ErrNothingCompressed, and a table named with Tables that no file holds
// is an error.
func TestFilesWithoutTables(t *testing.T) {
	_, dir := pair(t)
	plain := filepath.Join(testkit.RepoRoot(t), "fixtures", "testdata", "not_embedding.onnx")
	enc, dec := filepath.Join(dir, "encoder_model.onnx"), filepath.Join(dir, "decoder_model.onnx")
	cases := []struct {
		name      string
		paths     []string
		tables    []string
		wantErr   string
		unchanged []string // files reported unchanged
	}{
		{"a file without tables", []string{enc, dec, plain}, nil, "", []string{"not_embedding.onnx"}},
		{"the shared table named", []string{enc, dec, plain}, []string{"pair.shared.weight"}, "", []string{"not_embedding.onnx"}},
		{"no file shrinks", []string{plain}, nil, compress.ErrNothingCompressed.Error(), nil},
		{"a named table no file holds", []string{enc, dec}, []string{"nope"}, `table "nope": no file holds it`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files, err := multi.Load(c.paths)
			if err != nil {
				t.Fatal(err)
			}
			groups, err := multi.Groups(files)
			if err != nil {
				t.Fatal(err)
			}
			opts := multi.Options{Options: compress.DefaultOptions()}
			opts.M, opts.K, opts.Iterations, opts.Restarts, opts.Tables = 2, 16, 2, 1, c.tables
			rep, err := multi.Compress(context.Background(), files, groups, opts)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Compress: %v, want an error with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var unchanged []string
			for _, f := range rep.Files {
				if f.Unchanged != "" {
					unchanged = append(unchanged, filepath.Base(f.Path))
				}
			}
			if strings.Join(unchanged, ",") != strings.Join(c.unchanged, ",") {
				t.Errorf("unchanged files %v, want %v", unchanged, c.unchanged)
			}
			out := t.TempDir()
			if err := multi.Save(context.Background(), files, out, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			for _, p := range c.paths {
				if _, err := os.Stat(filepath.Join(out, filepath.Base(p))); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

// TestPaths: a folder gives its .onnx files, encoders first; two files of
// one name (whose outputs would collide) are refused.
func TestPaths(t *testing.T) {
	_, dir := pair(t)
	got, err := multi.Paths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range got {
		names = append(names, filepath.Base(p))
	}
	if strings.Join(names, ",") != "encoder_model.onnx,decoder_model.onnx" {
		t.Errorf("Paths(%s) = %v, want the encoder, then the decoder", dir, names)
	}
	other := t.TempDir()
	// Paths looks at names only: any file of that name collides.
	if err := os.WriteFile(filepath.Join(other, "decoder_model.onnx"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := multi.Paths([]string{dir, filepath.Join(other, "decoder_model.onnx")}); err == nil || !strings.Contains(err.Error(), "two files of one name") {
		t.Errorf("Paths with two decoder_model.onnx: %v, want an error", err)
	}
	if _, err := multi.Paths([]string{other + "/missing"}); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Paths of a missing file: %v, want not-exist", err)
	}
}
