package model_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// TestLoadSaveNonUTF8Strings wants a model whose strings are not UTF-8
// (ONNX's onnx.proto is proto2: its strings are bytes, and ONNX Runtime
// loads them) loaded and saved with those bytes unchanged.
func TestLoadSaveNonUTF8Strings(t *testing.T) {
	f := fixtures.All()[0]
	mp := f.Model
	// Same-length markers, replaced in the encoded file, so that the
	// fixture is written whatever the encoder thinks of UTF-8.
	mp.DocString, mp.Graph.Node[0].DocString, mp.Graph.Node[0].Name = "~~model", "~~node", "~~name"
	mp.MetadataProps = append(mp.MetadataProps, &onnxpb.StringStringEntryProto{Key: "~~key", Value: "~~value"})
	b, err := fixtures.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	b = bytes.ReplaceAll(b, []byte("~~"), []byte("\xff\xfe"))
	in := filepath.Join(t.TempDir(), "in.onnx")
	if err := os.WriteFile(in, b, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := model.Load(in)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	out := filepath.Join(t.TempDir(), "out.onnx")
	if err := m.Save(out, model.SaveOptions{External: model.ExternalNever}); err != nil {
		t.Fatalf("Save: %v", err)
	}
	back, err := model.Load(out)
	if err != nil {
		t.Fatalf("Load of the saved model: %v", err)
	}
	p, n := back.Proto, back.Proto.Graph.Node[0]
	meta := p.MetadataProps[len(p.MetadataProps)-1]
	got := []string{p.DocString, n.DocString, n.Name, meta.Key, meta.Value}
	want := []string{"\xff\xfemodel", "\xff\xfenode", "\xff\xfename", "\xff\xfekey", "\xff\xfevalue"}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("saved and loaded back: %q, want %q", got[i], want[i])
		}
	}
}
