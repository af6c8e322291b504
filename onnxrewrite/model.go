package onnxrewrite

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
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
	m := &Model{
		Proto: mp,
		Path:  path,
		dir:   filepath.Dir(path),
		ext:   map[*onnxpb.TensorProto]extLoc{},
		added: map[*onnxpb.TensorProto]bool{},
	}
	var firstErr error
	m.eachTensor(func(t *onnxpb.TensorProto) {
		if firstErr != nil {
			return
		}
		if !isExternal(t) {
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
	if elemBits(DataType(t.DataType)) == 0 {
		return nil
	}
	want, err := dataBytes(t)
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
	want, err := dataBytes(t)
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

// eachTensor calls fn for every tensor in the model, in a fixed order:
// graph initializers, sparse initializers, node attributes (subgraphs
// included), functions, training graphs.
func (m *Model) eachTensor(fn func(*onnxpb.TensorProto)) {
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

// ExternalMode says where Save puts tensor data.
type ExternalMode int

const (
	// ExternalAuto keeps external tensors external and inline ones inline;
	// tensors a rewrite added go external when the model already used
	// external data.
	ExternalAuto ExternalMode = iota
	// ExternalAlways moves every tensor of at least SaveOptions.Threshold
	// bytes to the data file.
	ExternalAlways
	// ExternalNever stores every tensor inside the model file.
	ExternalNever
)

// SaveOptions controls Save.
type SaveOptions struct {
	External ExternalMode
	// DataFile is the external data file's name, in the output's folder;
	// default: the output's file name plus ".data".
	DataFile string
	// Threshold is the size from which a tensor goes to external data, in
	// bytes; default 1024.
	Threshold int64
	// Check, when set, is run on the written model file before it is
	// renamed into place (CheckGraph, for one); an error leaves no output.
	Check func(path string) error
}

// outputMode is the permission of written models: temporary files are
// created private, and made readable as any written file before the rename.
const outputMode = 0o644

// extAlign aligns each tensor in the data file so that runtimes can map it.
const extAlign = 4096

// Save writes the model to path, and its external tensors to a data file
// beside it. Both are written to temporary files in the target folder, synced
// and renamed into place, so a failure never leaves half a model; the input
// model and its data are never written to.
func (m *Model) Save(path string, opts SaveOptions) error {
	return m.SaveContext(context.Background(), path, opts)
}

// copyChunk is how much external data SaveContext copies between two looks
// at its context.
const copyChunk = 64 << 20

// SaveContext is Save that stops when ctx is done: it looks at ctx between
// tensors and every 64 MiB of copied data, and up to the moment the files
// are renamed into place. A cancelled save removes its temporary files,
// leaves no output and returns an error that wraps ctx.Err().
// CheckOutput says whether Save could write to path with opts: the folder
// exists, the data file name is plain, and neither file is the input model
// or its data. Commands call it before long work, so that a wrong path fails
// at once.
func (m *Model) CheckOutput(path string, opts SaveOptions) error {
	_, _, _, err := m.outputPaths(path, opts)
	return err
}

// outputPaths checks an output path and returns its folder, the data file's
// name and path.
func (m *Model) outputPaths(path string, opts SaveOptions) (dir, dataName, dataPath string, err error) {
	dir = filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil {
		return "", "", "", fmt.Errorf("%s: output folder: %w", path, err)
	} else if !st.IsDir() {
		return "", "", "", fmt.Errorf("%s: output folder %s is not a directory", path, dir)
	}
	dataName = opts.DataFile
	if dataName == "" {
		dataName = filepath.Base(path) + ".data"
	}
	if dataName != filepath.Base(dataName) || dataName == "." || dataName == ".." {
		return "", "", "", fmt.Errorf("%s: data file name %q must be a plain file name in the output's folder", path, opts.DataFile)
	}
	dataPath = filepath.Join(dir, dataName)
	if err := m.refuseInputs(path, dataPath); err != nil {
		return "", "", "", err
	}
	return dir, dataName, dataPath, nil
}

func (m *Model) SaveContext(ctx context.Context, path string, opts SaveOptions) error {
	if opts.Threshold <= 0 {
		opts.Threshold = 1024
	}
	dir, dataName, dataPath, err := m.outputPaths(path, opts)
	if err != nil {
		return err
	}

	// Choose each tensor's place.
	var toExt []*onnxpb.TensorProto
	var inlineFromExt []*onnxpb.TensorProto
	useExt := opts.External == ExternalAlways || (opts.External == ExternalAuto && len(m.ext) > 0)
	m.eachTensor(func(t *onnxpb.TensorProto) {
		size := storedBytes(t)
		switch {
		case opts.External == ExternalNever:
			if isExternal(t) {
				inlineFromExt = append(inlineFromExt, t)
			}
		case isExternal(t):
			toExt = append(toExt, t)
		case DataType(t.DataType) == onnxpb.TensorProto_STRING || !useExt || size < opts.Threshold:
		case opts.External == ExternalAlways || m.added[t]:
			toExt = append(toExt, t)
		}
	})

	var tmps []string
	defer func() {
		for _, p := range tmps {
			os.Remove(p)
		}
	}()

	// Swap each moved tensor's storage for the output's, marshal, and put
	// the input's back, so that m stays as loaded and no table is copied.
	type saved struct {
		t     *onnxpb.TensorProto
		state tensorStorage
	}
	var restore []saved
	defer func() {
		for i := len(restore) - 1; i >= 0; i-- {
			restore[i].state.put(restore[i].t)
		}
	}()

	for _, t := range inlineFromExt {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: save interrupted: %w", path, err)
		}
		b, err := m.TensorBytes(t)
		if err != nil {
			return err
		}
		restore = append(restore, saved{t, storageOf(t)})
		t.DataLocation = onnxpb.TensorProto_DEFAULT
		t.ExternalData = nil
		t.RawData = b
	}
	var dataTmp string
	if len(toExt) > 0 {
		f, err := os.CreateTemp(dir, "."+dataName+".*.tmp")
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if err := f.Chmod(outputMode); err != nil {
			f.Close()
			os.Remove(f.Name())
			return fmt.Errorf("%s: %w", path, err)
		}
		dataTmp = f.Name()
		tmps = append(tmps, dataTmp)
		var off int64
		for _, t := range toExt {
			if err := ctx.Err(); err != nil {
				f.Close()
				return fmt.Errorf("%s: save interrupted: %w", path, err)
			}
			if pad := (extAlign - off%extAlign) % extAlign; pad > 0 && off > 0 {
				if _, err := f.Write(make([]byte, pad)); err != nil {
					f.Close()
					return fmt.Errorf("%s: %w", dataPath, err)
				}
				off += pad
			}
			n, err := m.copyTensorData(ctx, f, t)
			if err != nil {
				f.Close()
				if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
					return fmt.Errorf("%s: save interrupted: %w", path, err)
				}
				return fmt.Errorf("writing %s: %w", dataPath, err)
			}
			restore = append(restore, saved{t, storageOf(t)})
			setExternal(t, dataName, off, n)
			off += n
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return fmt.Errorf("%s: %w", dataPath, err)
		}
		if err := f.Close(); err != nil {
			return fmt.Errorf("%s: %w", dataPath, err)
		}
	}

	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto)
	if err != nil {
		return fmt.Errorf("%s: encoding model: %w", path, err)
	}
	if len(b) > maxProtoBytes {
		return fmt.Errorf("%s: the model file would be %d bytes, past protobuf's 2 GiB limit: save with external data", path, len(b))
	}
	graphTmp, err := writeTemp(dir, "."+filepath.Base(path)+".*.tmp", b)
	if graphTmp != "" {
		tmps = append(tmps, graphTmp)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if opts.Check != nil {
		if err := runCheck(opts.Check, graphTmp); err != nil {
			return fmt.Errorf("%s: the written model fails its check: %w", path, err)
		}
	}
	// The last moment to stop: once the renames start, they finish.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: save interrupted: %w", path, err)
	}
	// Data first: a model file never points at data that is not there.
	if dataTmp != "" {
		if err := os.Rename(dataTmp, dataPath); err != nil {
			return fmt.Errorf("%s: %w", dataPath, err)
		}
	}
	if err := os.Rename(graphTmp, path); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	tmps = nil
	syncDir(dir)
	return nil
}

// checkPanic is a Check that panicked: a failed check, not a crash.
type checkPanic struct{ v any }

func (e *checkPanic) Error() string { return fmt.Sprintf("the check panicked: %v", e.v) }

// runCheck runs a caller's check (CheckGraph runs a third-party decoder on
// what Save wrote), turning a panic into an error so that the temporary
// files are still removed.
func runCheck(check func(string) error, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &checkPanic{r}
		}
	}()
	return check(path)
}

// refuseInputs refuses an output (the model file or its data file) that
// would overwrite the input model or a file the input's external data lives
// in.
func (m *Model) refuseInputs(path, dataPath string) error {
	in, err := os.Stat(m.Path)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	for _, out := range []string{path, dataPath} {
		dst, err := os.Stat(out)
		if err != nil {
			continue
		}
		if os.SameFile(in, dst) {
			if out == path {
				return fmt.Errorf("%s: refusing to overwrite the input model", path)
			}
			return fmt.Errorf("%s: refusing to overwrite %s, which is the input model", path, dataPath)
		}
		// m.ext, not ExternalFiles: a rewrite may have dropped the
		// tensors that read a file, which is still the input's.
		for _, loc := range m.ext {
			if st, err := os.Stat(loc.file); err == nil && os.SameFile(st, dst) {
				return fmt.Errorf("%s: refusing to overwrite %s, which holds the input model's external data", path, out)
			}
		}
	}
	return nil
}

// copyTensorData writes a tensor's bytes to w, streaming external data
// from its file in chunks of copyChunk with a look at ctx between them.
func (m *Model) copyTensorData(ctx context.Context, w *os.File, t *onnxpb.TensorProto) (int64, error) {
	if loc, ok := m.ext[t]; ok && isExternal(t) {
		src, err := os.Open(loc.file)
		if err != nil {
			return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		defer src.Close()
		if _, err := src.Seek(loc.offset, io.SeekStart); err != nil {
			return 0, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		// A LimitedReader over an *os.File lets the kernel copy the bytes.
		var n int64
		for n < loc.length && err == nil {
			if err = ctx.Err(); err != nil {
				break
			}
			var k int64
			k, err = io.Copy(w, &io.LimitedReader{R: src, N: min(copyChunk, loc.length-n)})
			n += k
			if err == nil && k == 0 {
				break
			}
		}
		if err == nil && n != loc.length {
			err = fmt.Errorf("external data ended after %d of %d bytes", n, loc.length)
		}
		if err != nil {
			return n, fmt.Errorf("tensor %q: %w", t.Name, err)
		}
		return n, nil
	}
	b, err := m.TensorBytes(t)
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// tensorStorage is the part of a tensor that says where its data is.
type tensorStorage struct {
	loc     onnxpb.TensorProto_DataLocation
	ext     []*onnxpb.StringStringEntryProto
	raw     []byte
	floats  []float32
	int32s  []int32
	int64s  []int64
	doubles []float64
	uint64s []uint64
}

func storageOf(t *onnxpb.TensorProto) tensorStorage {
	return tensorStorage{t.DataLocation, t.ExternalData, t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data}
}

func (s tensorStorage) put(t *onnxpb.TensorProto) {
	t.DataLocation, t.ExternalData, t.RawData = s.loc, s.ext, s.raw
	t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = s.floats, s.int32s, s.int64s, s.doubles, s.uint64s
}

// setExternal points a tensor at bytes in the data file, keeping any other
// external_data keys (a checksum stays valid: the bytes are the same).
func setExternal(t *onnxpb.TensorProto, file string, off, n int64) {
	entries := []*onnxpb.StringStringEntryProto{
		{Key: "location", Value: file},
		{Key: "offset", Value: strconv.FormatInt(off, 10)},
		{Key: "length", Value: strconv.FormatInt(n, 10)},
	}
	for _, e := range t.ExternalData {
		switch e.Key {
		case "location", "offset", "length":
		default:
			entries = append(entries, e)
		}
	}
	t.ExternalData = entries
	t.DataLocation = onnxpb.TensorProto_EXTERNAL
	t.RawData, t.FloatData, t.Int32Data, t.Int64Data, t.DoubleData, t.Uint64Data = nil, nil, nil, nil, nil, nil
}

// writeTemp writes b to a new temporary file in dir and syncs it.
func writeTemp(dir, pattern string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, pattern)
	if err != nil {
		return "", err
	}
	if err := f.Chmod(outputMode); err != nil {
		f.Close()
		os.Remove(f.Name())
		return "", err
	}
	name := f.Name()
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return name, err
}

func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}

// ErrNotFound is returned (wrapped) when a named table does not exist.
var ErrNotFound = errors.New("not found")

// ExternalFiles lists the files the model's external tensors are read from,
// in the order the tensors appear.
func (m *Model) ExternalFiles() []string {
	var files []string
	seen := map[string]bool{}
	m.eachTensor(func(t *onnxpb.TensorProto) {
		if loc, ok := m.ext[t]; ok && isExternal(t) && !seen[loc.file] {
			seen[loc.file] = true
			files = append(files, loc.file)
		}
	})
	return files
}

// CheckDataflow checks that the model's graphs are wired: every value a
// node reads (its inputs, and the outer-scope values its subgraphs read) is
// a graph input, an initializer, another node's output or, in a subgraph, a
// value of an enclosing graph; no value is produced twice in a graph; no
// node depends on itself through other nodes; every graph output is
// defined. Nodes need not be listed in order. The error names the graph and
// the node. Load does not call it, so that inspect still reads odd models;
// a rewrite should.
func CheckDataflow(m *Model) error {
	if m.Proto.Graph == nil {
		return fmt.Errorf("%s: no graph", m.Path)
	}
	_, err := checkDataflow(m.Path, m.Proto.Graph, "main", nil)
	return err
}

// dfScope is the names a graph and its enclosing graphs define.
type dfScope struct {
	names  map[string]bool
	parent *dfScope
}

func (s *dfScope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

// checkDataflow checks one graph and returns the names it reads from its
// enclosing graphs.
func checkDataflow(file string, g *onnxpb.GraphProto, path string, outer *dfScope) (map[string]bool, error) {
	local := map[string]bool{}
	for _, in := range g.Input {
		local[in.Name] = true
	}
	for _, t := range g.Initializer {
		local[t.Name] = true
	}
	for _, s := range g.SparseInitializer {
		if s.Values != nil {
			local[s.Values.Name] = true
		}
	}
	label := func(i int) string {
		n := g.Node[i]
		return fmt.Sprintf("node %q (%s)", nodeLabel(n, i), n.OpType)
	}
	producer := map[string]int{}
	for i, n := range g.Node {
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if j, ok := producer[o]; ok {
				return nil, fmt.Errorf("%s: graph %s: %s writes %q, which %s writes too", file, path, label(i), o, label(j))
			}
			if local[o] {
				return nil, fmt.Errorf("%s: graph %s: %s writes %q, which is a graph input or initializer", file, path, label(i), o)
			}
			producer[o] = i
		}
	}
	here := &dfScope{names: map[string]bool{}, parent: outer}
	for n := range local {
		here.names[n] = true
	}
	for n := range producer {
		here.names[n] = true
	}
	free := map[string]bool{}
	deps := make([][]int, len(g.Node)) // deps[i]: the nodes node i reads from
	for i, n := range g.Node {
		reads := append([]string(nil), n.Input...)
		for _, a := range n.Attribute {
			subs := attrGraphs(a)
			for j, sg := range subs {
				p := path + "/" + nodeLabel(n, i) + "." + a.Name
				if len(subs) > 1 {
					p += "[" + strconv.Itoa(j) + "]"
				}
				subFree, err := checkDataflow(file, sg, p, here)
				if err != nil {
					return nil, err
				}
				for _, name := range sortedNames(subFree) {
					reads = append(reads, name)
				}
			}
		}
		for _, in := range reads {
			switch {
			case in == "" || local[in]:
			case producerIs(producer, in):
				deps[i] = append(deps[i], producer[in])
			case outer.has(in):
				free[in] = true
			default:
				return nil, fmt.Errorf("%s: graph %s: %s reads %q, which nothing defines", file, path, label(i), in)
			}
		}
	}
	for _, o := range g.Output {
		if !local[o.Name] && !producerIs(producer, o.Name) {
			if !outer.has(o.Name) {
				return nil, fmt.Errorf("%s: graph %s: output %q is not defined by any node, input or initializer", file, path, o.Name)
			}
			free[o.Name] = true
		}
	}
	// Kahn's algorithm: whatever cannot be ordered is on a cycle or
	// downstream of one.
	users := make([][]int, len(g.Node))
	waiting := make([]int, len(g.Node))
	for i, ds := range deps {
		waiting[i] = len(ds)
		for _, d := range ds {
			users[d] = append(users[d], i)
		}
	}
	var ready []int
	for i, w := range waiting {
		if w == 0 {
			ready = append(ready, i)
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, u := range users[i] {
			if waiting[u]--; waiting[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if done < len(g.Node) {
		// Walk back from a blocked node through blocked producers until a
		// node repeats: that node is on a cycle.
		i := 0
		for waiting[i] == 0 {
			i++
		}
		seen := map[int]bool{}
		for !seen[i] {
			seen[i] = true
			for _, d := range deps[i] {
				if waiting[d] > 0 {
					i = d
					break
				}
			}
		}
		return nil, fmt.Errorf("%s: graph %s: %s is on a cycle: it depends on its own output", file, path, label(i))
	}
	return free, nil
}

func producerIs(producer map[string]int, name string) bool {
	_, ok := producer[name]
	return ok
}

func sortedNames(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FilesBytes is the size of a model file plus the external data files it
// reads: what the model takes on disk.
func FilesBytes(path string) (int64, error) {
	m, err := Load(path)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range append([]string{path}, m.ExternalFiles()...) {
		st, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}
