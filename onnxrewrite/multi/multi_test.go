package multi_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/multi"
)

// pair is the zoo's encoder-decoder folder.
func pair(t *testing.T) (fixtures.ZooFolder, string) {
	t.Helper()
	for _, f := range fixtures.ZooFolders() {
		if f.Name == "t5_pair" {
			return f, fixtures.ZooDir(testkit.RepoRoot(t), f.Name)
		}
	}
	t.Fatal("no t5_pair in fixtures.ZooFolders")
	return fixtures.ZooFolder{}, ""
}

// load loads the folder's files, encoder first.
func load(t *testing.T, dir string) []*multi.File {
	t.Helper()
	paths, err := multi.Paths([]string{dir})
	if err != nil {
		t.Fatal(err)
	}
	files, err := multi.Load(paths)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestGroups finds the shared table of the zoo pair once, held by both
// files, and two tables when one value of the decoder's copy differs (the
// last byte: not among the scattered probes, so the full comparison
// decides).
func TestGroups(t *testing.T) {
	zf, dir := pair(t)
	cases := []struct {
		name    string
		mutate  bool
		holders []int // holders per group
	}{
		{"as exported", false, []int{2}},
		{"decoder's last value differs", true, []int{1, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			files := load(t, dir)
			if got := filepath.Base(files[0].Path); got != "encoder_model.onnx" {
				t.Fatalf("first file %s, want the encoder", got)
			}
			if c.mutate {
				for _, in := range files[1].Model.Proto.Graph.Initializer {
					if in.Name == zf.Shared[0] {
						in.RawData[len(in.RawData)-1] ^= 1
					}
				}
			}
			groups, err := multi.Groups(files)
			if err != nil {
				t.Fatal(err)
			}
			if len(groups) != len(c.holders) {
				t.Fatalf("%d groups (%+v), want %d", len(groups), groups, len(c.holders))
			}
			for i, g := range groups {
				if g.Name != zf.Shared[0] || len(g.Holders) != c.holders[i] {
					t.Errorf("group %d: %s held by %v, want %s held by %d files", i, g.Name, g.Holders, zf.Shared[0], c.holders[i])
				}
			}
		})
	}
}

// compressPair compresses the zoo pair at M x 16 and returns the files
// (rewritten in memory), the report and the phases each file went through
// per table ("learn", "given").
func compressPair(t *testing.T, dir string, m int, seed int64) ([]*multi.File, *multi.Report, map[string][]string) {
	t.Helper()
	files := load(t, dir)
	groups, err := multi.Groups(files)
	if err != nil {
		t.Fatal(err)
	}
	phases := map[string][]string{}
	opts := multi.Options{Options: compress.DefaultOptions()}
	opts.M, opts.K, opts.Seed, opts.Iterations = m, 16, seed, 16
	opts.Progress = func(file string, ev compress.Event) {
		if (ev.Phase == "learn" && ev.Learn == nil) || ev.Phase == "given" {
			phases[ev.Table] = append(phases[ev.Table], filepath.Base(file)+":"+ev.Phase)
		}
	}
	rep, err := multi.Compress(context.Background(), files, groups, opts)
	if err != nil {
		t.Fatal(err)
	}
	return files, rep, phases
}

// TestCompressLearnsOnce: the shared table is learned once, in the
// encoder, and the decoder is given its codes (the progress says so), and
// both saved files hold byte-identical codes and codebook tensors (every
// tensor the rewrite added to the encoder is in the decoder, byte for
// byte).
func TestCompressLearnsOnce(t *testing.T) {
	zf, dir := pair(t)
	files, rep, phases := compressPair(t, dir, 8, 1)
	name := zf.Shared[0]
	if got := strings.Join(phases[name], ","); got != "encoder_model.onnx:learn,decoder_model.onnx:given" {
		t.Errorf("phases of %s: %s, want one learn (encoder) and the codes given to the decoder", name, got)
	}
	if rep.Learned[name] != 1 {
		t.Errorf("%s learned %d times, want 1", name, rep.Learned[name])
	}
	out := t.TempDir()
	if err := multi.Save(context.Background(), files, out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	added := func(file string) map[string][]byte {
		orig := testkit.Load(t, filepath.Join(dir, file))
		had := map[string]bool{}
		for _, in := range orig.Proto.Graph.Initializer {
			had[in.Name] = true
		}
		got := map[string][]byte{}
		m := testkit.Load(t, filepath.Join(out, file))
		for _, in := range m.Proto.Graph.Initializer {
			if !had[in.Name] {
				b, err := m.TensorBytes(in)
				if err != nil {
					t.Fatal(err)
				}
				got[in.Name] = b
			}
		}
		return got
	}
	enc, dec := added("encoder_model.onnx"), added("decoder_model.onnx")
	big := 0
	for n, b := range enc {
		if len(b) < 1024 {
			continue
		}
		big++
		if !bytes.Equal(b, dec[n]) {
			t.Errorf("tensor %s (%d bytes) differs between the encoder's and the decoder's output", n, len(b))
		}
	}
	if big < 2 {
		t.Errorf("%d tensors of 1 KiB or more added to the encoder, want the codes and the codebook", big)
	}
}

// TestSaveFailureLeavesNothing: when the decoder's output fails its check,
// after the encoder's passed, the output folder stays empty.
func TestSaveFailureLeavesNothing(t *testing.T) {
	_, dir := pair(t)
	files, _, _ := compressPair(t, dir, 4, 1)
	out := t.TempDir()
	refused := errors.New("refused")
	checked := 0
	check := func(p string) error {
		checked++
		if strings.Contains(filepath.Base(p), "decoder_model.onnx") { // a temporary name
			return refused
		}
		return nil
	}
	err := multi.Save(context.Background(), files, out, model.SaveOptions{Check: check})
	if !errors.Is(err, refused) {
		t.Fatalf("Save: %v, want the decoder's check error", err)
	}
	if checked != 2 {
		t.Errorf("%d checks ran, want 2 (the encoder's passed first)", checked)
	}
	if ents, _ := os.ReadDir(out); len(ents) != 0 {
		t.Errorf("the output folder holds %d entries after a failed save, want none", len(ents))
	}
}
