package model

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Opset returns the model's version of the default ONNX operator set.
func (m *Model) Opset() int64 {
	for _, o := range m.Proto.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// TensorReaderAt reads a tensor's bytes wherever they are stored; close
// releases what it holds open.
func (m *Model) TensorReaderAt(t *onnxpb.TensorProto) (r io.ReaderAt, close func(), err error) {
	if loc, ok := m.ext[t]; ok && IsExternal(t) {
		f, err := os.Open(loc.file)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
		}
		return io.NewSectionReader(f, loc.offset, loc.length), func() { f.Close() }, nil
	}
	b, err := m.TensorBytes(t)
	if err != nil {
		return nil, nil, err
	}
	return bytes.NewReader(b), func() {}, nil
}

// SetFloat32s stores float32 values in tensor t, in its element type, inline
// (or as a new external tensor when it was external).
func (m *Model) SetFloat32s(t *onnxpb.TensorProto, v []float32) error {
	raw, err := EncodeFloats(v, DataType(t.DataType))
	if err != nil {
		return err
	}
	external := IsExternal(t)
	delete(m.ext, t)
	setExternal(t, "", 0, 0)
	t.ExternalData, t.DataLocation, t.RawData = nil, onnxpb.TensorProto_DEFAULT, raw
	if external {
		m.added[t] = true
	}
	return nil
}

// AddTensor records t as a tensor a rewrite created, so that Save may move
// it to external data as it does the model's own external tensors.
func (m *Model) AddTensor(t *onnxpb.TensorProto) { m.added[t] = true }

// Derive returns a model with another proto that reads its external data
// from the same files as m: for a pruned or edited copy of m's graph whose
// tensors are m's own.
func (m *Model) Derive(mp *onnxpb.ModelProto) *Model {
	return &Model{Proto: mp, Path: m.Path, dir: m.dir, ext: m.ext, added: map[*onnxpb.TensorProto]bool{}}
}

// Namer hands out names that no graph of the model uses yet: node, value,
// initializer and input/output names, in every subgraph.
type Namer struct{ used map[string]bool }

// NewNamer collects the names the model uses now.
func NewNamer(m *Model) *Namer {
	used := map[string]bool{}
	var visit func(g *onnxpb.GraphProto)
	visit = func(g *onnxpb.GraphProto) {
		for _, t := range g.Initializer {
			used[t.Name] = true
		}
		for _, s := range g.SparseInitializer {
			if s.Values != nil {
				used[s.Values.Name] = true
			}
		}
		for _, vs := range [][]*onnxpb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
			for _, v := range vs {
				used[v.Name] = true
			}
		}
		for _, n := range g.Node {
			used[n.Name] = true
			for _, s := range n.Input {
				used[s] = true
			}
			for _, s := range n.Output {
				used[s] = true
			}
			for _, a := range n.Attribute {
				for _, sub := range AttrGraphs(a) {
					visit(sub)
				}
			}
		}
	}
	visit(m.Proto.Graph)
	return &Namer{used: used}
}

// Fresh returns base, or base_N for the first N that is free, and takes it.
func (nm *Namer) Fresh(base string) string {
	name := base
	for i := 1; nm.used[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	nm.used[name] = true
	return name
}
