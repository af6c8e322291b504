// Package testkit holds the helpers embshrink's tests share across
// packages: small models written to disk, digests that prove inputs were
// left alone, and the way to the real data in ../shared (skipping when it
// is absent). Only tests import it.
package testkit

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// FloatTensor is a float32 [rows, cols] initializer of seed, seed+0.25, ...
func FloatTensor(name string, rows, cols int, seed float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*rows*cols)
	for i := 0; i < rows*cols; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(seed+float32(i)*0.25))
	}
	return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(rows), int64(cols)}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

// GatherModel is ids [N] -> Gather(emb [rows, cols]) -> out [N, cols].
func GatherModel(opset int64, rows, cols int) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}},
		Graph: &onnxpb.GraphProto{
			Name:        "g",
			Input:       []*onnxpb.ValueInfoProto{fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, "n")},
			Output:      []*onnxpb.ValueInfoProto{fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT, "n", cols)},
			Initializer: []*onnxpb.TensorProto{FloatTensor("emb", rows, cols, 1)},
			Node: []*onnxpb.NodeProto{{Name: "lookup", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"out"},
				Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0}}}},
		},
	}
}

// Externalize moves a model's initializers into one data file, returning the
// data.
func Externalize(mp *onnxpb.ModelProto, file string) []byte {
	var data []byte
	for _, t := range mp.Graph.Initializer {
		off := len(data)
		data = append(data, t.RawData...)
		t.RawData = nil
		t.DataLocation = onnxpb.TensorProto_EXTERNAL
		t.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location", Value: file},
			{Key: "offset", Value: strconv.Itoa(off)}, {Key: "length", Value: strconv.Itoa(len(data) - off)}}
	}
	return data
}

// WriteModel writes mp to path.
func WriteModel(t *testing.T, path string, mp *onnxpb.ModelProto) {
	t.Helper()
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// WriteExternalModel writes a gather model whose table is in model.onnx.data.
func WriteExternalModel(t *testing.T, dir string) string {
	t.Helper()
	mp := GatherModel(13, 50, 8)
	data := Externalize(mp, "model.onnx.data")
	if err := os.WriteFile(filepath.Join(dir, "model.onnx.data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	WriteModel(t, path, mp)
	return path
}

// DirDigest hashes every file in dir by name, to prove inputs untouched.
func DirDigest(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = sha256.Sum256(b)
	}
	return out
}

// SharedData returns a file under ../shared/data, or skips.
func SharedData(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join(RepoRoot(tb), "..", "shared", "data", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("../shared is absent (%v): this needs ../shared/data/%s beside the repo", err, rel)
	}
	return p
}

// repoRoot is the folder holding go.mod, found upward from the test's
// working directory (its package folder).
// RepoRoot is the folder of go.mod above the test's working directory.
func RepoRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d
		}
		if filepath.Dir(d) == d {
			tb.Fatalf("no go.mod above %s", dir)
		}
	}
}

// Write writes a fixture to a fresh folder and returns the model's path.
func Write(t *testing.T, f fixtures.Fixture) string {
	t.Helper()
	dir := t.TempDir()
	if err := fixtures.Write(dir, f); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, f.FileName())
}

func Load(t *testing.T, path string) *model.Model {
	t.Helper()
	m, err := model.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// Codes draws random codes and a codebook. With grid > 0 every codebook
// value is a multiple of 1/grid in [-1, 1], so that sums of M of them are
// exact even in 16-bit floats.
func Codes(rows, m, k, d int, seed uint64, grid float64) (codes.Codes, codes.Codebook) {
	rng := rand.New(rand.NewPCG(seed, 0xc0de))
	c := codes.Codes{Rows: rows, M: m, K: k, Data: make([]uint16, rows*m)}
	for i := range c.Data {
		c.Data[i] = uint16(rng.IntN(k))
	}
	b := codes.Codebook{M: m, K: k, D: d, Data: make([]float32, m*k*d)}
	for i := range b.Data {
		v := rng.NormFloat64() * 0.3
		if grid > 0 {
			v = math.Max(-1, math.Min(1, math.Round(v*grid)/grid))
		}
		b.Data[i] = float32(v)
	}
	return c, b
}

// FuzzDataName is the one external data file a fuzzed model may use.
const FuzzDataName = "model.onnx.data"

// FuzzSeeds returns the committed fixture models, each with its external
// data (if any) moved to FuzzDataName so that a single data argument feeds
// it.
func FuzzSeeds(tb testing.TB) (models, data [][]byte) {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(RepoRoot(tb), "fixtures", "testdata", "*.onnx"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no fixture models under ../fixtures/testdata (%v)", err)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		mp := &onnxpb.ModelProto{}
		if err := proto.Unmarshal(b, mp); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		var file string
		m := &model.Model{Proto: mp}
		m.EachTensor(func(t *onnxpb.TensorProto) {
			if !model.IsExternal(t) {
				return
			}
			loc, _ := model.ExternalField(t, "location")
			file = loc
			for _, e := range t.ExternalData {
				if e.Key == "location" {
					e.Value = FuzzDataName
				}
			}
		})
		var d []byte
		if file != "" {
			if d, err = os.ReadFile(filepath.Join(filepath.Dir(p), file)); err != nil {
				tb.Fatal(err)
			}
		}
		if b, err = (proto.MarshalOptions{Deterministic: true}).Marshal(mp); err != nil {
			tb.Fatal(err)
		}
		models = append(models, b)
		data = append(data, d)
	}
	return models, data
}

// writeFuzzModel writes model (and data, when not empty) into a new folder.
func WriteFuzzModel(t *testing.T, model, data []byte) string {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "model.onnx")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	if len(data) > 0 {
		if err := os.WriteFile(filepath.Join(dir, FuzzDataName), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// checkUnchanged fails unless path and its data file still hold model and
// data.
func CheckUnchanged(t *testing.T, path string, model, data []byte) {
	t.Helper()
	if b, _ := os.ReadFile(path); !bytes.Equal(b, model) {
		t.Fatal("the input model file changed")
	}
	if len(data) > 0 {
		if b, _ := os.ReadFile(filepath.Join(filepath.Dir(path), FuzzDataName)); !bytes.Equal(b, data) {
			t.Fatal("the input data file changed")
		}
	}
}

// Argmax32 returns the first index of the largest value of v (len(v) > 0):
// a language model's next token.
func Argmax32(v []float32) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
