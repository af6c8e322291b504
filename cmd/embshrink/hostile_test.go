package main

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// hostileEnv is one case's folders: the input model and its data in in/,
// codes and codebook in aux/, outputs go to out/ (empty).
type hostileEnv struct {
	root, in, aux, out string
	model              string // in/model.onnx
	codes, book        string // good codes [64, 2] and codebook [32, 4]
	output             string // rewrite's -o
	extra              []string
	// prep, when set, edits every model editModel writes, first.
	prep func(mp *onnxpb.ModelProto)
}

const hostileRows, hostileDim = 64, 4

// hostileProto is ids -> Gather(emb [64, 4]) -> out with emb in
// model.onnx.data.
func hostileProto() (*onnxpb.ModelProto, []byte) {
	data := make([]byte, 4*hostileRows*hostileDim)
	for i := 0; i < hostileRows*hostileDim; i++ {
		binary.LittleEndian.PutUint32(data[4*i:], math.Float32bits(float32(i)/7))
	}
	vi := func(name string, elem onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem)}}}}
	}
	mp := &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}, Graph: &onnxpb.GraphProto{
		Name:   "hostile",
		Input:  []*onnxpb.ValueInfoProto{vi("ids", onnxpb.TensorProto_INT64)},
		Output: []*onnxpb.ValueInfoProto{vi("out", onnxpb.TensorProto_FLOAT)},
		Initializer: []*onnxpb.TensorProto{{Name: "emb", Dims: []int64{hostileRows, hostileDim}, DataType: int32(onnxpb.TensorProto_FLOAT),
			DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: []*onnxpb.StringStringEntryProto{{Key: "location", Value: "model.onnx.data"}}}},
		Node: []*onnxpb.NodeProto{{Name: "lookup", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"out"}}},
	}}
	return mp, data
}

func mustWrite(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func writeProto(t *testing.T, path string, mp *onnxpb.ModelProto) {
	t.Helper()
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, path, b)
}

// editModel rewrites the input model through fn.
func (e *hostileEnv) editModel(t *testing.T, fn func(mp *onnxpb.ModelProto)) {
	t.Helper()
	mp, _ := hostileProto()
	if e.prep != nil {
		e.prep(mp)
	}
	fn(mp)
	writeProto(t, e.model, mp)
}

func newHostileEnv(t *testing.T) *hostileEnv {
	t.Helper()
	root := t.TempDir()
	e := &hostileEnv{root: root, in: filepath.Join(root, "in"), aux: filepath.Join(root, "aux"), out: filepath.Join(root, "out")}
	for _, d := range []string{e.in, e.aux, e.out} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	mp, data := hostileProto()
	e.model = filepath.Join(e.in, "model.onnx")
	writeProto(t, e.model, mp)
	mustWrite(t, filepath.Join(e.in, "model.onnx.data"), data)
	codes := make([]uint8, hostileRows*2)
	for i := range codes {
		codes[i] = uint8(i % 16)
	}
	book := make([]float32, 32*hostileDim)
	for i := range book {
		book[i] = float32(i) / 32
	}
	e.codes, e.book = filepath.Join(e.aux, "codes.npy"), filepath.Join(e.aux, "book.npy")
	if err := npy.WriteFile(e.codes, npy.FromUint8([]int{hostileRows, 2}, codes)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(e.book, npy.FromFloat32([]int{32, hostileDim}, book)); err != nil {
		t.Fatal(err)
	}
	e.output = filepath.Join(e.out, "small.onnx")
	return e
}

// rawNpy is an .npy header declaring descr and shape, followed by data.
func rawNpy(descr, shape string, data []byte) []byte {
	h := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape)
	for (10+len(h)+1)%64 != 0 {
		h += " "
	}
	h += "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), byte(len(h)), byte(len(h)>>8))
	return append(append(b, h...), data...)
}

// snapshot records every file under root: content hash, or link target.
func snapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case d.IsDir():
			out[rel] = "dir"
		default:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// commandNames lists the subcommands the CLI has.
func commandNames() map[string]bool {
	names := map[string]bool{}
	for _, c := range newApp(io.Discard, io.Discard).Commands {
		names[c.Name] = true
	}
	return names
}

// TestHostileInputs runs every subcommand on broken and hostile inputs.
// Each run must exit 2 with one line on stderr naming the file (and the
// tensor or node where there is one), nothing on stdout, no panic, no
// output or temporary file, the inputs byte-identical and no large
// allocation.
func TestHostileInputs(t *testing.T) {
	have := commandNames()
	all := []string{"inspect", "rewrite", "learn", "compress"}
	tableCmds := []string{"rewrite", "learn", "compress"}
	rw := []string{"rewrite"}
	writers := []string{"rewrite", "compress"}
	setLoc := func(loc string) func(t *testing.T, e *hostileEnv) {
		return func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].ExternalData[0].Value = loc })
		}
	}
	writeCodes := func(a *npy.Array) func(t *testing.T, e *hostileEnv) {
		return func(t *testing.T, e *hostileEnv) {
			if err := npy.WriteFile(e.codes, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	writeBook := func(a *npy.Array) func(t *testing.T, e *hostileEnv) {
		return func(t *testing.T, e *hostileEnv) {
			if err := npy.WriteFile(e.book, a); err != nil {
				t.Fatal(err)
			}
		}
	}
	bookWith := func(i int, v float32) []float32 {
		b := make([]float32, 32*hostileDim)
		b[i] = v
		return b
	}
	cases := []struct {
		name  string
		cmds  []string
		setup func(t *testing.T, e *hostileEnv)
		want  []string
	}{
		{"empty file", all, func(t *testing.T, e *hostileEnv) { mustWrite(t, e.model, nil) }, []string{"model.onnx", "empty file"}},
		{"random bytes", all, func(t *testing.T, e *hostileEnv) {
			r := rand.New(rand.NewPCG(1, 2))
			b := make([]byte, 4096)
			for i := range b {
				b[i] = byte(r.Uint32())
			}
			mustWrite(t, e.model, b)
		}, []string{"model.onnx", "not an ONNX model"}},
		{"truncated model", all, func(t *testing.T, e *hostileEnv) {
			mp, data := hostileProto()
			mp.Graph.Initializer[0].ExternalData, mp.Graph.Initializer[0].DataLocation, mp.Graph.Initializer[0].RawData = nil, 0, data
			b, _ := proto.Marshal(mp)
			mustWrite(t, e.model, b[:len(b)-37])
		}, []string{"model.onnx", "not an ONNX model"}},
		{"JSON named .onnx", all, func(t *testing.T, e *hostileEnv) {
			mustWrite(t, e.model, []byte(`{"irVersion": "8", "graph": {"node": [{"opType": "Gather"}]}}`))
		}, []string{"model.onnx", "not an ONNX model"}},
		{"text named .onnx", all, func(t *testing.T, e *hostileEnv) {
			mustWrite(t, e.model, []byte("this is not a model\nat all\n"))
		}, []string{"model.onnx", "not an ONNX model"}},
		{"external data missing", all, func(t *testing.T, e *hostileEnv) { os.Remove(filepath.Join(e.in, "model.onnx.data")) },
			[]string{"model.onnx", `tensor "emb"`, "external data file"}},
		{"external data shorter than the tensor", all, func(t *testing.T, e *hostileEnv) {
			os.Truncate(filepath.Join(e.in, "model.onnx.data"), 100)
		}, []string{"model.onnx", `tensor "emb"`, "holds 100 bytes"}},
		{"absolute external path", all, setLoc("/etc/passwd"), []string{"model.onnx", `tensor "emb"`, "absolute path"}},
		{"../ escape", all, setLoc("../aux/book.npy"), []string{"model.onnx", `tensor "emb"`, "escapes the model's folder"}},
		{"symlink out of the folder", all, func(t *testing.T, e *hostileEnv) {
			if err := os.Symlink(filepath.Join(e.aux, "book.npy"), filepath.Join(e.in, "link.data")); err != nil {
				t.Fatal(err)
			}
			setLoc("link.data")(t, e)
		}, []string{"model.onnx", `tensor "emb"`, "leads out of the model's folder"}},
		{"huge inline dimension, no data", all, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) {
				emb := mp.Graph.Initializer[0]
				emb.Dims, emb.DataLocation, emb.ExternalData = []int64{1 << 28, 1 << 20}, 0, nil
			})
		}, []string{"model.onnx", `tensor "emb"`, "needs 1125899906842624"}},
		{"huge external dimension, no data", all, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].Dims = []int64{1 << 28, 1 << 20} })
		}, []string{"model.onnx", `tensor "emb"`, "needs 1125899906842624"}},
		{"negative dimension", all, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) { mp.Graph.Initializer[0].Dims = []int64{-64, -4} })
		}, []string{"model.onnx", `tensor "emb"`, "negative dimension"}},
		{"no embedding table", tableCmds, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) { mp.Graph.Node[0].OpType = "MatMul" })
		}, []string{"model.onnx", "no embedding table"}},
		{"graph cycle", writers, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) {
				mp.Graph.Node[0].Input[1] = "ids2"
				mp.Graph.Node = append(mp.Graph.Node, &onnxpb.NodeProto{Name: "loop_back", OpType: "ArgMax", Input: []string{"out"}, Output: []string{"ids2"}})
			})
		}, []string{"model.onnx", "graph main", "is on a cycle", `"lookup" (Gather)`}},
		{"node reads an undefined tensor", writers, func(t *testing.T, e *hostileEnv) {
			e.editModel(t, func(mp *onnxpb.ModelProto) {
				mp.Graph.Node = append(mp.Graph.Node, &onnxpb.NodeProto{Name: "orphan", OpType: "Add", Input: []string{"out", "ghost"}, Output: []string{"sum"}})
			})
		}, []string{"model.onnx", `"ghost"`, `"orphan"`}},
		{"codes with too few rows", rw, writeCodes(npy.FromUint8([]int{63, 2}, make([]uint8, 126))), []string{"codes have 63 rows", `"emb"`}},
		{"codes 1-D", rw, writeCodes(npy.FromUint8([]int{128}, make([]uint8, 128))), []string{"codes.npy", "2-D"}},
		{"codes of float dtype", rw, writeCodes(npy.FromFloat32([]int{hostileRows, 2}, make([]float32, 128))), []string{"codes.npy"}},
		{"codes negative", rw, writeCodes(npy.FromInt32([]int{hostileRows, 2}, append([]int32{3, -1}, make([]int32, 126)...))), []string{"codes.npy", "-1", "outside"}},
		{"codes >= K", rw, writeCodes(npy.FromUint8([]int{hostileRows, 2}, append(append(make([]uint8, 5), 16), make([]uint8, 122)...))), []string{"codes.npy", "16", "outside"}},
		{"codes huge declared shape", rw, func(t *testing.T, e *hostileEnv) {
			mustWrite(t, e.codes, rawNpy("|u1", "(1099511627776, 2)", []byte{1, 2, 3}))
		}, []string{"codes.npy"}},
		{"codes empty file", rw, func(t *testing.T, e *hostileEnv) { mustWrite(t, e.codes, nil) }, []string{"codes.npy"}},
		{"codes missing", rw, func(t *testing.T, e *hostileEnv) { os.Remove(e.codes) }, []string{"codes.npy"}},
		{"codebook NaN", rw, writeBook(npy.FromFloat32([]int{32, hostileDim}, bookWith(9, float32(math.NaN())))), []string{`"emb"`, "codebook", "NaN"}},
		{"codebook +Inf", rw, writeBook(npy.FromFloat32([]int{32, hostileDim}, bookWith(0, float32(math.Inf(1))))), []string{`"emb"`, "codebook", "Inf"}},
		{"codebook rows not a multiple of M", rw, writeBook(npy.FromFloat32([]int{33, hostileDim}, make([]float32, 33*hostileDim))), []string{"book.npy", "33 rows"}},
		{"codebook of the wrong width", rw, writeBook(npy.FromFloat32([]int{32, 5}, make([]float32, 160))), []string{`"emb"`, "codebook rows have 5 values"}},
		{"codebook of complex dtype", rw, func(t *testing.T, e *hostileEnv) {
			mustWrite(t, e.book, rawNpy("<c8", "(32, 4)", make([]byte, 32*4*8)))
		}, []string{"book.npy"}},
		{"codebook huge declared shape", rw, func(t *testing.T, e *hostileEnv) {
			mustWrite(t, e.book, rawNpy("<f4", "(1099511627776, 4)", make([]byte, 64)))
		}, []string{"book.npy"}},
		{"output in a missing folder", writers, func(t *testing.T, e *hostileEnv) { e.output = filepath.Join(e.out, "no", "such", "small.onnx") },
			[]string{"small.onnx", "output folder"}},
		{"output is the input", writers, func(t *testing.T, e *hostileEnv) { e.output = e.model }, []string{"model.onnx", "refusing to overwrite the input model"}},
		{"output is the input's data file", writers, func(t *testing.T, e *hostileEnv) { e.output = filepath.Join(e.in, "model.onnx.data") },
			[]string{"model.onnx.data", "refusing to overwrite", "external data"}},
		{"output's data file is the input", writers, func(t *testing.T, e *hostileEnv) {
			e.output = filepath.Join(e.in, "small.onnx")
			e.extra = []string{"--data-file", "model.onnx", "--external-data", "always"}
		}, []string{"model.onnx", "refusing to overwrite", "is the input model"}},
	}
	for _, c := range cases {
		for _, cmd := range c.cmds {
			if !have[cmd] {
				continue
			}
			t.Run(cmd+"/"+c.name, func(t *testing.T) {
				e := newHostileEnv(t)
				c.setup(t, e)
				var args []string
				switch cmd {
				case "inspect":
					args = []string{"inspect", e.model}
				case "rewrite":
					args = []string{"rewrite", e.model, "--codes", e.codes, "--codebook", e.book, "-o", e.output}
				case "learn":
					args = []string{"learn", "--model", e.model, "--M", "2", "--K", "16", "--iterations", "1",
						"--codes", filepath.Join(e.out, "codes.npy"), "--codebook", filepath.Join(e.out, "book.npy")}
				case "compress":
					args = []string{"compress", e.model, "-o", e.output, "-M", "2", "-K", "16", "--min-table-bytes", "0"}
				}
				args = append(args, e.extra...)
				before := snapshot(t, e.root)
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				code, stdout, stderr := runCLI(args...)
				runtime.ReadMemStats(&ms1)
				if alloc := ms1.TotalAlloc - ms0.TotalAlloc; alloc > 256<<20 {
					t.Errorf("allocated %d MiB", alloc>>20)
				}
				if code != exitInput {
					t.Errorf("exit %d, want %d; stderr %q", code, exitInput, stderr)
				}
				if stdout != "" {
					t.Errorf("stdout not empty: %q", stdout)
				}
				line := strings.TrimSuffix(stderr, "\n")
				if strings.Contains(line, "\n") || !strings.HasPrefix(line, "embshrink: ") {
					t.Errorf("stderr is not one line starting \"embshrink: \": %q", stderr)
				}
				if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine") {
					t.Errorf("panic: %s", stderr)
				}
				after := snapshot(t, e.root)
				for p, h := range after {
					if before[p] != h {
						t.Errorf("%s was created or changed", p)
					}
				}
				for p := range before {
					if _, ok := after[p]; !ok {
						t.Errorf("%s was removed", p)
					}
				}
				if t.Failed() {
					return
				}
				t.Logf("stderr: %s", line)
				var missing []string
				for _, w := range c.want {
					if !strings.Contains(stderr, w) {
						missing = append(missing, w)
					}
				}
				if len(missing) > 0 {
					t.Errorf("stderr %q lacks %q", stderr, missing)
				}
			})
		}
	}
}

// TestInterruptLeavesNothing sends SIGINT to the built command while it
// saves a model with a ~300 MB external tensor, at the point where its
// temporary files are written and nothing is renamed (held there by
// EMBSHRINK_TEST_HOLD_SAVE), and requires exit 130, no output or temporary
// file, and the input unchanged.
func TestInterruptLeavesNothing(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 300 MB")
	}
	bin := embshrinkBinary(t)
	e := newHostileEnv(t)
	const n = 75 << 20 // float32s: 300 MiB
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i * 31)
	}
	f, err := os.Create(filepath.Join(e.in, "ballast.data"))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4*n/len(chunk); i++ {
		if _, err := f.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	// A large tensor the rewrite keeps, so that the save copies it.
	e.editModel(t, func(mp *onnxpb.ModelProto) {
		mp.Graph.Initializer = append(mp.Graph.Initializer, &onnxpb.TensorProto{Name: "ballast", Dims: []int64{n}, DataType: int32(onnxpb.TensorProto_FLOAT),
			DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: []*onnxpb.StringStringEntryProto{{Key: "location", Value: "ballast.data"}}})
		mp.Graph.Node = append(mp.Graph.Node, &onnxpb.NodeProto{Name: "keep", OpType: "Identity", Input: []string{"ballast"}, Output: []string{"ballast_out"}})
		mp.Graph.Output = append(mp.Graph.Output, &onnxpb.ValueInfoProto{Name: "ballast_out"})
	})
	before := snapshot(t, e.root)
	held := filepath.Join(t.TempDir(), "held")
	cmd := exec.Command(bin, "rewrite", e.model, "--codes", e.codes, "--codebook", e.book, "-o", e.output)
	cmd.Env = append(os.Environ(), saveHoldEnv+"="+held)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(60 * time.Second)
	for {
		if _, err := os.Stat(held); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the command ended (%v) before its save reached the hold point; stderr %q", err, stderr.String())
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("the save did not reach the hold point in 60 s; stderr %q", stderr.String())
		case <-time.After(5 * time.Millisecond):
		}
	}
	if n := heldTemps(t, e.out); n != 2 {
		t.Errorf("held save: %d temporary files in the output folder and its check's staging folder, want the model's and its data's", n)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	err = <-done
	code := cmd.ProcessState.ExitCode()
	after := snapshot(t, e.root)
	if code != exitSIGINT {
		t.Fatalf("exit %d (%v), want %d; stderr %q", code, err, exitSIGINT, stderr.String())
	}
	line := strings.TrimSuffix(stderr.String(), "\n")
	if strings.Contains(line, "\n") || !strings.Contains(line, "interrupted by SIGINT") || stdout.String() != "" {
		t.Errorf("stdout %q, stderr %q: want nothing and one line", stdout.String(), stderr.String())
	}
	for p, h := range after {
		if before[p] != h {
			t.Errorf("%s was created or changed", p)
		}
	}
	if len(after) != len(before) {
		t.Errorf("%d files before, %d after", len(before), len(after))
	}
}

// heldTemps counts the distinct files a save in progress holds in dir: its
// temporary files, and those in the check's staging folder (the model file
// hard-linked there counts once; the data file is moved there during the
// check).
func heldTemps(t *testing.T, dir string) int {
	t.Helper()
	var seen []os.FileInfo
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || !strings.Contains(p, ".tmp") {
			return nil
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(seen, func(o os.FileInfo) bool { return os.SameFile(o, st) }) {
			seen = append(seen, st)
		}
		return nil
	})
	return len(seen)
}
