package onnxrewrite_test

import (
	"crypto/sha256"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

func floatTensor(name string, rows, cols int, seed float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*rows*cols)
	for i := 0; i < rows*cols; i++ {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(seed+float32(i)*0.25))
	}
	return &onnxpb.TensorProto{Name: name, Dims: []int64{int64(rows), int64(cols)}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: raw}
}

// gatherModel is ids [N] -> Gather(emb [rows, cols]) -> out [N, cols].
func gatherModel(opset int64, rows, cols int) *onnxpb.ModelProto {
	return &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: opset}},
		Graph: &onnxpb.GraphProto{
			Name:        "g",
			Input:       []*onnxpb.ValueInfoProto{fixtures.TensorInfo("ids", onnxpb.TensorProto_INT64, "n")},
			Output:      []*onnxpb.ValueInfoProto{fixtures.TensorInfo("out", onnxpb.TensorProto_FLOAT, "n", cols)},
			Initializer: []*onnxpb.TensorProto{floatTensor("emb", rows, cols, 1)},
			Node: []*onnxpb.NodeProto{{Name: "lookup", OpType: "Gather", Input: []string{"emb", "ids"}, Output: []string{"out"},
				Attribute: []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, I: 0}}}},
		},
	}
}

// externalize moves a model's initializers into one data file, returning the
// data.
func externalize(mp *onnxpb.ModelProto, file string) []byte {
	var data []byte
	for _, t := range mp.Graph.Initializer {
		off := len(data)
		data = append(data, t.RawData...)
		t.RawData = nil
		t.DataLocation = onnxpb.TensorProto_EXTERNAL
		t.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location", Value: file},
			{Key: "offset", Value: itoa(off)}, {Key: "length", Value: itoa(len(data) - off)}}
	}
	return data
}

func itoa(i int) string {
	b := []byte{}
	if i == 0 {
		return "0"
	}
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

func writeModel(t *testing.T, path string, mp *onnxpb.ModelProto) {
	t.Helper()
	b, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeExternalModel writes a gather model whose table is in model.onnx.data.
func writeExternalModel(t *testing.T, dir string) string {
	t.Helper()
	mp := gatherModel(13, 50, 8)
	data := externalize(mp, "model.onnx.data")
	if err := os.WriteFile(filepath.Join(dir, "model.onnx.data"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "model.onnx")
	writeModel(t, path, mp)
	return path
}

// dirDigest hashes every file in dir by name, to prove inputs untouched.
func dirDigest(t *testing.T, dir string) map[string][32]byte {
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

// sharedData returns a file under ../shared/data, or skips.
func sharedData(tb testing.TB, rel string) string {
	tb.Helper()
	p := filepath.Join("..", "..", "shared", "data", filepath.FromSlash(rel))
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("../shared is absent (%v): this needs ../shared/data/%s beside the repo", err, rel)
	}
	return p
}
