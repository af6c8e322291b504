package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"testing"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binDir  string
)

// embshrinkBinary builds the command once per test process.
func embshrinkBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		binDir, binErr = os.MkdirTemp("", "embshrink-bin-")
		if binErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "embshrink")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = &buildError{err, out}
		}
	})
	if binErr != nil {
		t.Fatalf("building embshrink: %v", binErr)
	}
	return binPath
}

type buildError struct {
	err error
	out []byte
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + string(e.out) }

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// runBinary runs the built command with GOMAXPROCS set.
func runBinary(t *testing.T, procs string, args ...string) {
	t.Helper()
	cmd := exec.Command(embshrinkBinary(t), args...)
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+procs)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("GOMAXPROCS=%s embshrink %q: %v\n%s", procs, args, err, stderr.String())
	}
}

// readDir returns every file in dir by name.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

func sameDirs(t *testing.T, what string, a, b map[string][]byte) {
	t.Helper()
	var names []string
	for n := range a {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(a) != len(b) {
		t.Errorf("%s: GOMAXPROCS=1 wrote %d files, GOMAXPROCS=2 wrote %d", what, len(a), len(b))
	}
	for _, n := range names {
		if !bytes.Equal(a[n], b[n]) {
			t.Errorf("%s: %s differs between GOMAXPROCS=1 and GOMAXPROCS=2", what, n)
		}
	}
}

// TestDeterministicOutputs runs the built command on fixtures with
// GOMAXPROCS=1 and 2 and requires byte-identical outputs: rewritten models
// and their data files, and learn's .npy files when the command has learn.
func TestDeterministicOutputs(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	learn := commandNames()["learn"]
	fixtures := []string{"external_data", "two_tables", "float16_table", "tied_projection", "opset18", "if_branch"}
	for i, name := range fixtures {
		t.Run(name, func(t *testing.T) {
			root := t.TempDir()
			in := filepath.Join(root, "in")
			if err := os.Mkdir(in, 0o755); err != nil {
				t.Fatal(err)
			}
			src := filepath.Join("..", "..", "fixtures", "testdata")
			for _, f := range []string{name + ".onnx", name + ".onnx.data"} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if os.IsNotExist(err) {
					continue
				} else if err != nil {
					t.Fatal(err)
				}
				mustWrite(t, filepath.Join(in, f), b)
			}
			path := filepath.Join(in, name+".onnx")
			m, err := model.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			inv, err := onnxrewrite.FindTables(m)
			if err != nil || len(inv.Tables) == 0 {
				t.Fatalf("fixture %s has no table (%v)", name, err)
			}
			V, D := int(inv.Tables[0].Shape[0]), int(inv.Tables[0].Shape[1])
			codes, book := filepath.Join(in, "codes.npy"), filepath.Join(in, "book.npy")
			r := rand.New(rand.NewPCG(uint64(i), 99))
			c := make([]uint8, V*2)
			for j := range c {
				c[j] = uint8(r.IntN(16))
			}
			b := make([]float32, 32*D)
			for j := range b {
				b[j] = float32(r.NormFloat64())
			}
			if err := npy.WriteFile(codes, npy.FromUint8([]int{V, 2}, c)); err != nil {
				t.Fatal(err)
			}
			if err := npy.WriteFile(book, npy.FromFloat32([]int{32, D}, b)); err != nil {
				t.Fatal(err)
			}
			outs := map[string]map[string][]byte{}
			for _, procs := range []string{"1", "2"} {
				out := filepath.Join(root, "out"+procs)
				if err := os.Mkdir(out, 0o755); err != nil {
					t.Fatal(err)
				}
				if learn {
					runBinary(t, procs, "learn", "--model", path, "--M", "2", "--K", "16", "--seed", "7",
						"--codes", filepath.Join(out, "learned_codes.npy"), "--codebook", filepath.Join(out, "learned_book.npy"))
					runBinary(t, procs, "rewrite", path, "--codes", filepath.Join(out, "learned_codes.npy"),
						"--codebook", filepath.Join(out, "learned_book.npy"), "-o", filepath.Join(out, "learned.onnx"))
				}
				runBinary(t, procs, "rewrite", path, "--codes", codes, "--codebook", book, "-o", filepath.Join(out, "small.onnx"))
				runBinary(t, procs, "rewrite", path, "--codes", codes, "--codebook", book, "-o", filepath.Join(out, "lookup.onnx"), "--layout", "lookup")
				runBinary(t, procs, "rewrite", path, "--codes", codes, "--codebook", book, "-o", filepath.Join(out, "ext.onnx"),
					"--external-data", "always", "--data-file", "weights.bin")
				outs[procs] = readDir(t, out)
			}
			if len(outs["1"]) < 3 {
				t.Fatalf("expected at least 3 output files, got %d", len(outs["1"]))
			}
			sameDirs(t, name, outs["1"], outs["2"])
		})
	}
}
