package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// runCLI runs embshrink in-process and returns its exit code and output.
func runCLI(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(append([]string{"embshrink"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// writeTinyModel writes ids -> Gather(emb [rows, 4]) -> out, with the table
// in external data.
func writeTinyModel(t *testing.T, dir string, rows int) string {
	t.Helper()
	raw := make([]byte, 4*rows*4)
	for i := 0; i < rows*4; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(float32(i)))
	}
	vi := func(name string, elem onnxpb.TensorProto_DataType) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(elem)}}}}
	}
	mp := &onnxpb.ModelProto{IrVersion: 8, OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}}, Graph: &onnxpb.GraphProto{
		Name:   "tiny",
		Input:  []*onnxpb.ValueInfoProto{vi("ids", onnxpb.TensorProto_INT64)},
		Output: []*onnxpb.ValueInfoProto{vi("out", onnxpb.TensorProto_FLOAT)},
		Initializer: []*onnxpb.TensorProto{{Name: "emb", Dims: []int64{int64(rows), 4}, DataType: int32(onnxpb.TensorProto_FLOAT),
			DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: []*onnxpb.StringStringEntryProto{{Key: "location", Value: "tiny.onnx.data"}}}},
		Node: []*onnxpb.NodeProto{{Name: "lookup", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"out"}}},
	}}
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "tiny.onnx")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "tiny.onnx.data"), raw, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestInspect(t *testing.T) {
	dir := t.TempDir()
	path := writeTinyModel(t, dir, 300)
	code, out, errOut := runCLI("inspect", path)
	if code != exitOK || errOut != "" {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	for _, want := range []string{"emb", "[300, 4]", "float32", "4800", "1.0000", "lookup"} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect output lacks %q:\n%s", want, out)
		}
	}
	// Flags after the model work too, and --json prints one document only.
	code, out, _ = runCLI("inspect", path, "--json")
	if code != exitOK {
		t.Fatalf("--json exit %d", code)
	}
	var doc struct {
		Tables []struct {
			Name  string   `json:"name"`
			Shape [2]int64 `json:"shape"`
			DType string   `json:"dtype"`
			Bytes int64    `json:"bytes"`
			Share float64  `json:"share"`
		} `json:"tables"`
		TotalBytes int64 `json:"total_bytes"`
	}
	dec := json.NewDecoder(strings.NewReader(out))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, out)
	}
	if dec.More() {
		t.Error("stdout holds more than one JSON document")
	}
	if len(doc.Tables) != 1 || doc.Tables[0].Name != "emb" || doc.Tables[0].Bytes != 4800 || doc.TotalBytes != 4800 || doc.Tables[0].Share != 1 {
		t.Errorf("JSON %+v", doc)
	}
}

func TestRewriteCommand(t *testing.T) {
	dir := t.TempDir()
	path := writeTinyModel(t, dir, 3000)
	codes := make([]uint8, 3000*2)
	for i := range codes {
		codes[i] = uint8(i % 16)
	}
	book := make([]float32, 2*16*4)
	for i := range book {
		book[i] = float32(i) / 10
	}
	cp, bp := filepath.Join(dir, "codes.npy"), filepath.Join(dir, "book.npy")
	if err := npy.WriteFile(cp, npy.FromUint8([]int{3000, 2}, codes)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(bp, npy.FromFloat32([]int{2, 16, 4}, book)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "small.onnx")
	code, stdout, errOut := runCLI("rewrite", path, "--codes", cp, "--codebook", bp, "-o", out)
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if !strings.Contains(stdout, "emb: decode layout, 1 Gather(s)") || !strings.Contains(stdout, "codes 3000 (2 per byte)") {
		t.Errorf("stdout:\n%s", stdout)
	}
	m, err := model.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	if len(inv.Tables) != 0 {
		t.Errorf("the rewritten model still has tables: %+v", inv.Tables)
	}
	if len(m.ExternalFiles()) != 1 {
		t.Errorf("the input used external data; the output should too, has %v", m.ExternalFiles())
	}
}

func TestBadInputExitsTwo(t *testing.T) {
	dir := t.TempDir()
	path := writeTinyModel(t, dir, 300)
	junk := filepath.Join(dir, "junk.onnx")
	os.WriteFile(junk, []byte("not a model at all"), 0o644)
	badCodes := filepath.Join(dir, "codes.npy")
	npy.WriteFile(badCodes, npy.FromUint8([]int{299, 2}, make([]uint8, 598)))
	book := filepath.Join(dir, "book.npy")
	npy.WriteFile(book, npy.FromFloat32([]int{32, 4}, make([]float32, 128)))
	textNpy := filepath.Join(dir, "text.npy")
	os.WriteFile(textNpy, []byte("hello"), 0o644)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"no arguments", []string{"inspect"}, "expected one argument"},
		{"missing model", []string{"inspect", filepath.Join(dir, "none.onnx")}, "none.onnx"},
		{"junk model", []string{"inspect", junk}, "junk.onnx: not an ONNX model"},
		{"unknown flag", []string{"inspect", "--frobnicate", path}, "frobnicate"},
		{"unknown table", []string{"rewrite", path, "--codes", badCodes, "--codebook", book, "--table", "nope", "-o", filepath.Join(dir, "o.onnx")}, "nope"},
		{"codes of wrong shape", []string{"rewrite", path, "--codes", badCodes, "--codebook", book, "-o", filepath.Join(dir, "o.onnx")}, "codes have 299 rows"},
		{"codes not npy", []string{"rewrite", path, "--codes", textNpy, "--codebook", book, "-o", filepath.Join(dir, "o.onnx")}, "text.npy"},
		{"output over input", []string{"rewrite", path, "--codes", badCodes, "--codebook", book, "-o", path}, ""},
		{"output in missing folder", []string{"rewrite", path, "--codes", badCodes, "--codebook", book, "-o", filepath.Join(dir, "x", "o.onnx")}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, stdout, errOut := runCLI(c.args...)
			if code != exitInput {
				t.Fatalf("exit %d, want %d; stderr %q", code, exitInput, errOut)
			}
			if stdout != "" && !strings.Contains(stdout, "USAGE") {
				t.Errorf("stdout not empty on error: %q", stdout)
			}
			if !strings.Contains(errOut, c.want) || strings.Count(strings.TrimSpace(errOut), "\n") > 0 && !strings.Contains(errOut, "USAGE") {
				t.Errorf("stderr %q: want one line mentioning %q", errOut, c.want)
			}
			if strings.Contains(errOut, "panic") {
				t.Errorf("panic: %s", errOut)
			}
			if _, err := os.Stat(filepath.Join(dir, "o.onnx")); err == nil {
				t.Error("an output file was left behind")
			}
		})
	}
}
