package ort

import (
	"os"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestScanModelIO reads a model's declared inputs and outputs without the
// runtime: whole, truncated, garbage and empty files.
func TestScanModelIO(t *testing.T) {
	big := make([]byte, 1<<20) // larger than the read buffer: skipped by seeking
	m := &onnxpb.ModelProto{IrVersion: 8, Graph: &onnxpb.GraphProto{
		Initializer: []*onnxpb.TensorProto{{Name: "w", Dims: []int64{1 << 18}, DataType: int32(onnxpb.TensorProto_FLOAT), RawData: big}},
		Input:       []*onnxpb.ValueInfoProto{fixtures.TensorInfo("a", onnxpb.TensorProto_INT64, "batch", "seq")},
		Output:      []*onnxpb.ValueInfoProto{fixtures.TensorInfo("b", onnxpb.TensorProto_FLOAT, "batch", 384)},
		Node:        []*onnxpb.NodeProto{{OpType: "Identity", Input: []string{"w"}, Output: []string{"b"}}},
	}}
	full, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		data    []byte
		wantErr bool
	}{
		{"whole", full, false},
		{"truncated", full[:len(full)-5], true},
		{"garbage", []byte{0xff, 0xff, 0xff}, true},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "m.onnx")
			if err := os.WriteFile(path, tt.data, 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := rtScanModelIO(path)
			if (err != nil) != tt.wantErr {
				t.Fatalf("error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil || tt.name != "whole" {
				return
			}
			if len(got) != 2 || !proto.Equal(got["a"], m.Graph.Input[0]) || !proto.Equal(got["b"], m.Graph.Output[0]) {
				t.Errorf("got %v", got)
			}
		})
	}
}
