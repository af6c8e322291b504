package model_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

func TestLoadRejectsBadInput(t *testing.T) {
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string) string
		want  []string // substrings of the error
	}{
		{"missing file", func(t *testing.T, dir string) string { return filepath.Join(dir, "nope.onnx") }, []string{"nope.onnx"}},
		{"directory", func(t *testing.T, dir string) string { return dir }, []string{"is a directory"}},
		{"empty file", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "empty.onnx")
			os.WriteFile(p, nil, 0o644)
			return p
		}, []string{"empty.onnx", "empty file"}},
		{"random bytes", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "random.onnx")
			os.WriteFile(p, []byte{0xff, 0xfe, 0x13, 0x37, 0x00, 0x99, 0x42}, 0o644)
			return p
		}, []string{"random.onnx", "not an ONNX model"}},
		{"json named onnx", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "model.onnx")
			os.WriteFile(p, []byte(`{"graph": {"node": []}}`), 0o644)
			return p
		}, []string{"model.onnx", "not an ONNX model"}},
		{"truncated model", func(t *testing.T, dir string) string {
			p := filepath.Join(dir, "cut.onnx")
			b, _ := proto.Marshal(testkit.GatherModel(13, 20, 4))
			os.WriteFile(p, b[:len(b)-37], 0o644)
			return p
		}, []string{"cut.onnx", "not an ONNX model"}},
		{"external data missing", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			os.Remove(filepath.Join(dir, "model.onnx.data"))
			return p
		}, []string{"model.onnx", `tensor "emb"`, "external data file"}},
		{"external data short", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			os.Truncate(filepath.Join(dir, "model.onnx.data"), 100)
			return p
		}, []string{"model.onnx", `tensor "emb"`, "holds 100 bytes"}},
		{"external data absolute", func(t *testing.T, dir string) string {
			return withLocation(t, dir, "/etc/passwd")
		}, []string{`tensor "emb"`, "absolute path"}},
		{"external data escapes", func(t *testing.T, dir string) string {
			return withLocation(t, dir, "../outside.data")
		}, []string{`tensor "emb"`, "escapes the model's folder"}},
		{"external data symlink out", func(t *testing.T, dir string) string {
			outside := t.TempDir()
			os.WriteFile(filepath.Join(outside, "w.data"), make([]byte, 50*8*4), 0o644)
			os.Symlink(filepath.Join(outside, "w.data"), filepath.Join(dir, "link.data"))
			return withLocation(t, dir, "link.data")
		}, []string{`tensor "emb"`, "leads out of the model's folder"}},
		{"huge declared shape", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			mp := loadProto(t, p)
			mp.Graph.Initializer[0].Dims = []int64{1 << 30, 1 << 20}
			mp.Graph.Initializer[0].ExternalData = mp.Graph.Initializer[0].ExternalData[:2] // no length
			testkit.WriteModel(t, p, mp)
			return p
		}, []string{`tensor "emb"`, "needs"}},
		{"duplicate initializer", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			mp := loadProto(t, p)
			twin := proto.Clone(mp.Graph.Initializer[0]).(*onnxpb.TensorProto)
			mp.Graph.Initializer = append(mp.Graph.Initializer, twin)
			testkit.WriteModel(t, p, mp)
			return p
		}, []string{"model.onnx", `initializer "emb" is defined twice`}},
		{"duplicate graph output", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			mp := loadProto(t, p)
			mp.Graph.Output = append(mp.Graph.Output, mp.Graph.Output[0])
			testkit.WriteModel(t, p, mp)
			return p
		}, []string{"model.onnx", "output", "is defined twice"}},
		{"overflowing shape", func(t *testing.T, dir string) string {
			p := testkit.WriteExternalModel(t, dir)
			mp := loadProto(t, p)
			mp.Graph.Initializer[0].Dims = []int64{1 << 40, 1 << 40}
			testkit.WriteModel(t, p, mp)
			return p
		}, []string{`tensor "emb"`, "overflows"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := c.setup(t, dir)
			before := testkit.DirDigest(t, dir)
			_, err := model.Load(path)
			if err == nil {
				t.Fatalf("Load(%s) succeeded, want an error", path)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if after := testkit.DirDigest(t, dir); !equalDigests(before, after) {
				t.Errorf("Load changed files in %s", dir)
			}
		})
	}
}

func withLocation(t *testing.T, dir, loc string) string {
	t.Helper()
	p := testkit.WriteExternalModel(t, dir)
	mp := loadProto(t, p)
	mp.Graph.Initializer[0].ExternalData[0].Value = loc
	testkit.WriteModel(t, p, mp)
	return p
}

func loadProto(t *testing.T, path string) *onnxpb.ModelProto {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		t.Fatal(err)
	}
	return mp
}

func equalDigests(a, b map[string][32]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestSaveRefuses(t *testing.T) {
	cases := []struct {
		name string
		out  func(dir string) string
		opts model.SaveOptions
		want string
	}{
		{"the input itself", func(dir string) string { return filepath.Join(dir, "model.onnx") }, model.SaveOptions{}, "refusing to overwrite the input model"},
		{"the input's data file", func(dir string) string { return filepath.Join(dir, "other.onnx") },
			model.SaveOptions{DataFile: "model.onnx.data"}, "holds the input model's external data"},
		{"a missing folder", func(dir string) string { return filepath.Join(dir, "no", "such", "out.onnx") }, model.SaveOptions{}, "output folder"},
		{"a data file with a path", func(dir string) string { return filepath.Join(dir, "out.onnx") },
			model.SaveOptions{DataFile: "../x.data"}, "plain file name"},
		{"a symlink", func(dir string) string {
			p := filepath.Join(dir, "link.onnx")
			os.WriteFile(filepath.Join(dir, "elsewhere.onnx"), []byte("x"), 0o644)
			os.Symlink(filepath.Join(dir, "elsewhere.onnx"), p)
			return p
		}, model.SaveOptions{}, "is a symbolic link"},
		{"a named pipe", func(string) string {
			// Not under dir, whose files the test reads.
			other, _ := os.MkdirTemp("", "fifo")
			p := filepath.Join(other, "fifo.onnx")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				panic(err)
			}
			return p
		}, model.SaveOptions{}, "is a named pipe"},
		{"a device node", func(string) string { return "/dev/null" }, model.SaveOptions{External: model.ExternalNever}, "is a device node"},
		{"a directory", func(dir string) string {
			p := filepath.Join(dir, "out.onnx")
			os.Mkdir(p, 0o755)
			return p
		}, model.SaveOptions{}, "is a directory"},
		{"a data file that is a directory", func(dir string) string {
			os.Mkdir(filepath.Join(dir, "out.onnx.data"), 0o755)
			return filepath.Join(dir, "out.onnx")
		}, model.SaveOptions{}, "output data file exists and is a directory"},
		{"a data file named as the output", func(dir string) string { return filepath.Join(dir, "out.onnx") },
			model.SaveOptions{DataFile: "out.onnx"}, "is the output model itself"},
		{"a name too long for the temporary file", func(dir string) string { return filepath.Join(dir, strings.Repeat("n", 240)+".onnx") },
			model.SaveOptions{}, "cannot write a temporary file"},
		{"standard output", func(string) string { return "-" }, model.SaveOptions{}, "cannot be written to standard output"},
		{"a failing check", func(dir string) string { return filepath.Join(dir, "out.onnx") },
			model.SaveOptions{Check: func(string) error { return os.ErrInvalid }}, "fails its check"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			path := testkit.WriteExternalModel(t, dir)
			m, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			out := c.out(dir)
			before := testkit.DirDigest(t, dir)
			err = m.Save(out, c.opts)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Save: got %v, want an error about %q", err, c.want)
			}
			if after := testkit.DirDigest(t, dir); !equalDigests(before, after) {
				t.Errorf("a refused Save left files behind or changed them: %v -> %v", keys(before), keys(after))
			}
		})
	}
}

func keys(m map[string][32]byte) []string {
	var s []string
	for k := range m {
		s = append(s, k)
	}
	return s
}

// tensorsByName maps every initializer of the main graph to its bytes.
func tensorsByName(t *testing.T, m *model.Model) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, tp := range m.Proto.Graph.Initializer {
		b, err := m.TensorBytes(tp)
		if err != nil {
			t.Fatal(err)
		}
		out[tp.Name] = append([]byte(nil), b...)
	}
	return out
}

func TestRoundTripKeepsTensors(t *testing.T) {
	modes := []struct {
		name     string
		opts     model.SaveOptions
		external bool
	}{
		{"auto", model.SaveOptions{}, true},
		{"never", model.SaveOptions{External: model.ExternalNever}, false},
		{"always", model.SaveOptions{External: model.ExternalAlways, DataFile: "w.bin"}, true},
	}
	for _, mode := range modes {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			in := testkit.WriteExternalModel(t, dir)
			m, err := model.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			want := tensorsByName(t, m)
			before := testkit.DirDigest(t, dir)
			outDir := t.TempDir()
			out := filepath.Join(outDir, "out.onnx")
			if err := m.Save(out, mode.opts); err != nil {
				t.Fatal(err)
			}
			if after := testkit.DirDigest(t, dir); !equalDigests(before, after) {
				t.Error("saving changed the input's files")
			}
			back, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			got := tensorsByName(t, back)
			for name, b := range want {
				if !bytes.Equal(got[name], b) {
					t.Errorf("tensor %q changed in the round trip", name)
				}
			}
			if ext := len(back.ExternalFiles()) > 0; ext != mode.external {
				t.Errorf("external data in output: %v, want %v", ext, mode.external)
			}
			if len(testkit.DirDigest(t, outDir)) != map[bool]int{true: 2, false: 1}[mode.external] {
				t.Errorf("output folder holds %v", keys(testkit.DirDigest(t, outDir)))
			}
		})
	}
}

// The real third-party models round-trip with every tensor byte-identical
// and everything else unchanged.
func TestRoundTripSharedModels(t *testing.T) {
	for _, rel := range []string{"vibe-sentiment/sentiment_model.onnx", "stories260k/stories260K_tied.onnx", "stories260k/stories260K_untied_folded.onnx"} {
		t.Run(filepath.Base(rel), func(t *testing.T) {
			in := testkit.SharedData(t, rel)
			m, err := model.Load(in)
			if err != nil {
				t.Fatal(err)
			}
			want := tensorsByName(t, m)
			out := filepath.Join(t.TempDir(), "rt.onnx")
			if err := m.Save(out, model.SaveOptions{}); err != nil {
				t.Fatal(err)
			}
			back, err := model.Load(out)
			if err != nil {
				t.Fatal(err)
			}
			got := tensorsByName(t, back)
			if len(got) != len(want) {
				t.Fatalf("%d initializers after the round trip, want %d", len(got), len(want))
			}
			for name, b := range want {
				if !bytes.Equal(got[name], b) {
					t.Errorf("tensor %q changed", name)
				}
			}
			if len(back.ExternalFiles()) != len(m.ExternalFiles()) {
				t.Errorf("external files: %d, want %d", len(back.ExternalFiles()), len(m.ExternalFiles()))
			}
			// Apart from where tensor bytes are stored, the models are equal.
			a, b := proto.Clone(m.Proto).(*onnxpb.ModelProto), proto.Clone(back.Proto).(*onnxpb.ModelProto)
			for _, mp := range []*onnxpb.ModelProto{a, b} {
				for _, tp := range mp.Graph.Initializer {
					tp.RawData, tp.ExternalData, tp.FloatData, tp.Int64Data = nil, nil, nil, nil
				}
			}
			if !proto.Equal(a, b) {
				t.Error("the model changed in the round trip beyond tensor storage")
			}
		})
	}
}

// Written models are readable like any written file, not private like the
// temporary files they start as.
func TestSaveFileMode(t *testing.T) {
	dir := t.TempDir()
	m, err := model.Load(testkit.WriteExternalModel(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.onnx")
	if err := m.Save(out, model.SaveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{out, out + ".data"} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", p, st.Mode().Perm())
		}
	}
}
