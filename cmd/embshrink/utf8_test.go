package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// notUTF8 stands for marker in the model file: the same length, so the
// protobuf lengths around it stay right, and not valid UTF-8.
const marker, notUTF8 = "~~~", "\xff\xfe\xc3"

// TestNonUTF8Strings feeds a model whose doc strings, node name, producer,
// metadata and attribute doc are not UTF-8 (ONNX's onnx.proto is proto2:
// strings are bytes; ONNX Runtime loads such a model): inspect and compress
// work, ONNX Runtime runs input and output, and the output keeps every one
// of those bytes.
func TestNonUTF8Strings(t *testing.T) {
	valNeedRuntime(t)
	e := newHostileEnv(t)
	fields := []string{"model doc", "producer", "meta key", "meta value", "graph doc", "node doc", "node name", "attr doc", "input doc"}
	e.prep = shapedIDs
	e.editModel(t, func(mp *onnxpb.ModelProto) {
		s := func(i int) string { return marker + fields[i] }
		mp.DocString, mp.ProducerName = s(0), s(1)
		mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: s(2), Value: s(3)})
		g := mp.Graph
		g.DocString, g.Node[0].DocString, g.Node[0].Name = s(4), s(5), s(6)
		g.Node[0].Attribute = []*onnxpb.AttributeProto{{Name: "axis", Type: onnxpb.AttributeProto_INT, DocString: s(7)}}
		g.Input[0].DocString = s(8)
	})
	b, err := os.ReadFile(e.model)
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, e.model, bytes.ReplaceAll(b, []byte(marker), []byte(notUTF8)))

	if code, _, stderr := runCLI("validate", e.model, e.model, "--samples", "4"); code != exitOK {
		t.Fatalf("validate of the input against itself (ONNX Runtime runs it): exit %d: %s", code, stderr)
	}
	if code, out, stderr := runCLI("inspect", e.model); code != exitOK || !strings.Contains(out, "emb") {
		t.Errorf("inspect: exit %d: %s%s", code, out, stderr)
	}
	if code, _, stderr := runCLI("compress", e.model, "-o", e.output, "-M", "2", "-K", "16", "--min-table-bytes", "0"); code != exitOK {
		t.Fatalf("compress: exit %d: %s", code, stderr)
	}
	if code, _, stderr := runCLI("validate", e.model, e.output, "--samples", "4"); code == exitInput {
		t.Errorf("validate input vs output: %s", stderr)
	}
	out, err := os.ReadFile(e.output)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fields {
		if !bytes.Contains(out, []byte(notUTF8+f)) {
			t.Errorf("the output lost the %s's bytes", f)
		}
	}
}
