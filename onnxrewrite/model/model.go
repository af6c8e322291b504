package model

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Model is a loaded ONNX model. Tensors stored in external data files are not
// read at load: their locations are checked and kept, and their bytes are
// read (or streamed to the output) only when needed.
type Model struct {
	// Proto is the model itself. Fields this package does not know survive
	// as protobuf unknown fields.
	Proto *onnxpb.ModelProto
	// Path is the file the model was loaded from.
	Path string

	dir string
	ext map[*onnxpb.TensorProto]extLoc
	// added holds tensors created by a rewrite; Save may move them to
	// external data.
	added map[*onnxpb.TensorProto]bool
}

// extLoc is where an external tensor's bytes are.
type extLoc struct {
	file           string // resolved path, inside the model's folder
	offset, length int64
}

// maxProtoBytes is protobuf's limit on one message: a model whose graph file
// would be larger must keep its weights in external data.
const maxProtoBytes = math.MaxInt32

// Load reads an ONNX model and resolves its external data, which must lie in
// files inside the model's folder.
func Load(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return nil, fmt.Errorf("%s: is a directory, not an ONNX model", path)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("%s: empty file, not an ONNX model", path)
	}
	if st.Size() > maxProtoBytes {
		return nil, fmt.Errorf("%s: %d bytes is past protobuf's 2 GiB limit; an ONNX model this large must keep its weights in external data", path, st.Size())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		return nil, fmt.Errorf("%s: not an ONNX model: %w", path, err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("%s: not an ONNX model: no graph", path)
	}
	if mp.IrVersion <= 0 {
		return nil, fmt.Errorf("%s: not an ONNX model: ir_version %d", path, mp.IrVersion)
	}
	if err := checkNames(path, mp.Graph, "main"); err != nil {
		return nil, err
	}
	m := &Model{
		Proto: mp,
		Path:  path,
		dir:   filepath.Dir(path),
		ext:   map[*onnxpb.TensorProto]extLoc{},
		added: map[*onnxpb.TensorProto]bool{},
	}
	var firstErr error
	m.EachTensor(func(t *onnxpb.TensorProto) {
		if firstErr != nil {
			return
		}
		if !IsExternal(t) {
			firstErr = m.checkInline(t)
			return
		}
		loc, err := m.resolveExternal(t)
		if err != nil {
			firstErr = err
			return
		}
		m.ext[t] = loc
	})
	if firstErr != nil {
		return nil, firstErr
	}
	return m, nil
}

// checkInline checks that a tensor stored inside the model holds as many
// bytes as its shape says, so that a hostile shape is refused at load rather
// than allocated later. Types without a fixed size (strings) and types this
// package does not know are carried through unchecked.
func (m *Model) checkInline(t *onnxpb.TensorProto) error {
	if ElemBits(DataType(t.DataType)) == 0 {
		return nil
	}
	want, err := DataBytes(t)
	if err != nil {
		return fmt.Errorf("%s: tensor %q: %w", m.Path, t.Name, err)
	}
	if got := inlineLen(t); got != want {
		return fmt.Errorf("%s: tensor %q: has %d bytes of data, shape %v of %s needs %d",
			m.Path, t.Name, got, t.Dims, DTypeName(DataType(t.DataType)), want)
	}
	return nil
}

// externalField returns the value of key in a tensor's external_data.
func externalField(t *onnxpb.TensorProto, key string) (string, bool) {
	for _, e := range t.ExternalData {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// resolveExternal checks that an external tensor's bytes exist inside the
// model's folder and match its shape.
func (m *Model) resolveExternal(t *onnxpb.TensorProto) (extLoc, error) {
	fail := func(format string, args ...any) (extLoc, error) {
		return extLoc{}, fmt.Errorf("%s: tensor %q: %s", m.Path, t.Name, fmt.Sprintf(format, args...))
	}
	loc, ok := externalField(t, "location")
	if !ok || loc == "" {
		return fail("external data has no location")
	}
	if filepath.IsAbs(loc) || strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, `\`) {
		return fail("external data location %q is an absolute path; only files inside the model's folder are read", loc)
	}
	clean := filepath.Clean(filepath.FromSlash(loc))
	if clean == ".." || strings.HasPrefix(clean, ".."+string(filepath.Separator)) {
		return fail("external data location %q escapes the model's folder", loc)
	}
	dir, err := filepath.EvalSymlinks(m.dir)
	if err != nil {
		return fail("%v", err)
	}
	full := filepath.Join(dir, clean)
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		return fail("external data file: %v", err)
	}
	if rel, err := filepath.Rel(dir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return fail("external data location %q leads out of the model's folder (to %s)", loc, real)
	}
	st, err := os.Stat(real)
	if err != nil {
		return fail("external data file: %v", err)
	}
	if !st.Mode().IsRegular() {
		return fail("external data location %q is not a regular file", loc)
	}
	var offset, length int64 = 0, -1
	if s, ok := externalField(t, "offset"); ok {
		if offset, err = strconv.ParseInt(s, 10, 64); err != nil || offset < 0 {
			return fail("external data offset %q is not a non-negative integer", s)
		}
	}
	if s, ok := externalField(t, "length"); ok {
		if length, err = strconv.ParseInt(s, 10, 64); err != nil || length < 0 {
			return fail("external data length %q is not a non-negative integer", s)
		}
	}
	want, err := DataBytes(t)
	if err != nil {
		return fail("%v", err)
	}
	if length < 0 {
		length = want
	}
	if length != want {
		return fail("external data length %d does not match shape %v of %s (%d bytes)", length, t.Dims, DTypeName(DataType(t.DataType)), want)
	}
	if offset > st.Size() || length > st.Size()-offset {
		return fail("external data %s holds %d bytes; the tensor needs %d at offset %d", loc, st.Size(), length, offset)
	}
	return extLoc{file: real, offset: offset, length: length}, nil
}

// EachTensor calls fn for every tensor in the model, in a fixed order:
// graph initializers, sparse initializers, node attributes (subgraphs
// included), functions, training graphs.
func (m *Model) EachTensor(fn func(*onnxpb.TensorProto)) {
	var graph func(g *onnxpb.GraphProto)
	var attrs func(as []*onnxpb.AttributeProto)
	sparse := func(s *onnxpb.SparseTensorProto) {
		if s == nil {
			return
		}
		if s.Values != nil {
			fn(s.Values)
		}
		if s.Indices != nil {
			fn(s.Indices)
		}
	}
	attrs = func(as []*onnxpb.AttributeProto) {
		for _, a := range as {
			if a.T != nil {
				fn(a.T)
			}
			for _, t := range a.Tensors {
				fn(t)
			}
			sparse(a.SparseTensor)
			for _, s := range a.SparseTensors {
				sparse(s)
			}
			if a.G != nil {
				graph(a.G)
			}
			for _, g := range a.Graphs {
				graph(g)
			}
		}
	}
	graph = func(g *onnxpb.GraphProto) {
		for _, t := range g.Initializer {
			fn(t)
		}
		for _, s := range g.SparseInitializer {
			sparse(s)
		}
		for _, n := range g.Node {
			attrs(n.Attribute)
		}
	}
	graph(m.Proto.Graph)
	for _, f := range m.Proto.Functions {
		for _, n := range f.Node {
			attrs(n.Attribute)
		}
	}
	for _, ti := range m.Proto.TrainingInfo {
		if ti.Initialization != nil {
			graph(ti.Initialization)
		}
		if ti.Algorithm != nil {
			graph(ti.Algorithm)
		}
	}
}

// ExternalField returns the value of key in a tensor's external_data.
func ExternalField(t *onnxpb.TensorProto, key string) (string, bool) { return externalField(t, key) }
