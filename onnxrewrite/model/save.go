package model

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

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
	if err := checkOutputs(path, dir, dataName, dataPath, opts); err != nil {
		return "", "", "", err
	}
	return dir, dataName, dataPath, nil
}

// SaveContext is Save that stops when ctx is done: it looks at ctx between
// tensors and every 64 MiB of copied data, and up to the moment the files
// are renamed into place. A cancelled save removes its temporary files,
// leaves no output and returns an error that wraps ctx.Err().
func (m *Model) SaveContext(ctx context.Context, path string, opts SaveOptions) error {
	st, err := m.prepareSave(ctx, path, opts)
	defer st.cleanup()
	if err != nil {
		return err
	}
	// The last moment to stop: once the renames start, they finish.
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: save interrupted: %w", path, err)
	}
	return st.commit()
}

// prepareSave writes the model's temporary files and runs opts.Check on
// them; the caller commits the returned state, and cleans it up in any case
// (it is never nil).
func (m *Model) prepareSave(ctx context.Context, path string, opts SaveOptions) (*saveState, error) {
	st := &saveState{path: path}
	if opts.Threshold <= 0 {
		opts.Threshold = 1024
	}
	dir, dataName, dataPath, err := m.outputPaths(path, opts)
	if err != nil {
		return st, err
	}
	st.dir, st.dataName, st.dataPath = dir, dataName, dataPath
	toExt, inlineFromExt := m.placeTensors(opts)
	removeStale(dir, dataName)
	removeStale(dir, filepath.Base(path))
	if err := st.inline(ctx, m, inlineFromExt); err != nil {
		return st, err
	}
	if err := st.writeData(ctx, m, toExt); err != nil {
		return st, err
	}
	if err := st.writeGraph(m); err != nil {
		return st, err
	}
	if opts.Check != nil {
		if err := st.check(opts.Check); err != nil {
			return st, fmt.Errorf("%s: the written model fails its check: %w", path, err)
		}
	}
	return st, nil
}

// placeTensors chooses each tensor's place in the output: the tensors that
// go to the data file, and the external ones that come inline.
func (m *Model) placeTensors(opts SaveOptions) (toExt, inlineFromExt []*onnxpb.TensorProto) {
	useExt := opts.External == ExternalAlways || (opts.External == ExternalAuto && len(m.ext) > 0)
	m.EachTensor(func(t *onnxpb.TensorProto) {
		size := StoredBytes(t)
		switch {
		case opts.External == ExternalNever:
			if IsExternal(t) {
				inlineFromExt = append(inlineFromExt, t)
			}
		case IsExternal(t):
			toExt = append(toExt, t)
		case DataType(t.DataType) == onnxpb.TensorProto_STRING || !useExt || size < opts.Threshold:
		case opts.External == ExternalAlways || m.added[t]:
			toExt = append(toExt, t)
		}
	})
	return toExt, inlineFromExt
}

// saveState is one save under way: its temporary files, and the tensors
// whose storage it swapped for the output's (put back by cleanup, so that
// the model stays as loaded and no table is copied).
type saveState struct {
	path, dir, dataName, dataPath string
	dataTmp, graphTmp             string
	tmps                          []string
	restore                       []savedStorage
}

type savedStorage struct {
	t     *onnxpb.TensorProto
	state tensorStorage
}

func (st *saveState) cleanup() {
	for _, p := range st.tmps {
		os.Remove(p)
		untrackTemp(p)
	}
	for i := len(st.restore) - 1; i >= 0; i-- {
		st.restore[i].state.put(st.restore[i].t)
	}
}

// inline brings external tensors into the model file.
func (st *saveState) inline(ctx context.Context, m *Model, ts []*onnxpb.TensorProto) error {
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("%s: save interrupted: %w", st.path, err)
		}
		b, err := m.TensorBytes(t)
		if err != nil {
			return err
		}
		st.restore = append(st.restore, savedStorage{t, storageOf(t)})
		t.DataLocation = onnxpb.TensorProto_DEFAULT
		t.ExternalData = nil
		t.RawData = b
	}
	return nil
}

// writeData writes the tensors of the data file to a synced temporary file,
// each aligned to extAlign, and points them at it.
func (st *saveState) writeData(ctx context.Context, m *Model, ts []*onnxpb.TensorProto) error {
	if len(ts) == 0 {
		return nil
	}
	f, err := os.CreateTemp(st.dir, tempPattern(st.dataName))
	if err != nil {
		return fmt.Errorf("%s: %w", st.path, err)
	}
	trackTemp(f.Name())
	lockTemp(f)
	st.dataTmp = f.Name()
	st.tmps = append(st.tmps, st.dataTmp)
	if err := f.Chmod(outputMode); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", st.path, err)
	}
	var off int64
	for _, t := range ts {
		if err := ctx.Err(); err != nil {
			f.Close()
			return fmt.Errorf("%s: save interrupted: %w", st.path, err)
		}
		if pad := (extAlign - off%extAlign) % extAlign; pad > 0 && off > 0 {
			if _, err := f.Write(make([]byte, pad)); err != nil {
				f.Close()
				return fmt.Errorf("%s: %w", st.dataPath, err)
			}
			off += pad
		}
		n, err := m.copyTensorData(ctx, f, t)
		if err != nil {
			f.Close()
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return fmt.Errorf("%s: save interrupted: %w", st.path, err)
			}
			return fmt.Errorf("writing %s: %w", st.dataPath, err)
		}
		st.restore = append(st.restore, savedStorage{t, storageOf(t)})
		setExternal(t, st.dataName, off, n)
		off += n
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", st.dataPath, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", st.dataPath, err)
	}
	return nil
}

// writeGraph writes the model file to a synced temporary file.
func (st *saveState) writeGraph(m *Model) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m.Proto)
	if err != nil {
		return fmt.Errorf("%s: encoding model: %w", st.path, err)
	}
	if len(b) > maxProtoBytes {
		return fmt.Errorf("%s: the model file would be %d bytes, past protobuf's 2 GiB limit: save with external data", st.path, len(b))
	}
	st.graphTmp, err = writeTemp(st.dir, tempPattern(filepath.Base(st.path)), b)
	if st.graphTmp != "" {
		st.tmps = append(st.tmps, st.graphTmp)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", st.path, err)
	}
	return nil
}

// check runs the caller's check on the written model as it will be: with
// a data file, in a staging folder beside the output, so that a reader that
// follows the external data (ONNX Runtime) finds it under its final name.
// The model file is hard-linked there; the data file is moved there and
// back, since ONNX's checker, which ONNX Runtime runs on subgraphs, refuses
// external data with more than one hard link ("a potential hardlink
// attack").
func (st *saveState) check(check func(string) error) (err error) {
	if st.dataTmp == "" {
		return runCheck(check, st.graphTmp)
	}
	stage, err := os.MkdirTemp(st.dir, tempPattern(filepath.Base(st.path)+".check"))
	if err != nil {
		return err
	}
	defer os.RemoveAll(stage)
	model := filepath.Join(stage, filepath.Base(st.path))
	if err := os.Link(st.graphTmp, model); err != nil {
		if err := os.Symlink(st.graphTmp, model); err != nil {
			return err
		}
	}
	staged := filepath.Join(stage, st.dataName)
	if err := os.Rename(st.dataTmp, staged); err != nil {
		return err
	}
	defer func() {
		if e := os.Rename(staged, st.dataTmp); e != nil && err == nil {
			err = e
		}
	}()
	return runCheck(check, model)
}

// commit renames the temporary files into place, data first: a model file
// never points at data that is not there.
func (st *saveState) commit() error {
	if st.dataTmp != "" {
		if err := os.Rename(st.dataTmp, st.dataPath); err != nil {
			return fmt.Errorf("%s: %w", st.dataPath, err)
		}
	}
	if err := os.Rename(st.graphTmp, st.path); err != nil {
		return fmt.Errorf("%s: %w", st.path, err)
	}
	for _, p := range st.tmps {
		untrackTemp(p)
	}
	st.tmps = nil
	syncDir(st.dir)
	return nil
}

// CheckPanic is a Check that panicked: a failed check, not a crash.
type CheckPanic struct{ v any }

func (e *CheckPanic) Error() string { return fmt.Sprintf("the check panicked: %v", e.v) }

// runCheck runs a caller's check (CheckGraph runs a third-party decoder on
// what Save wrote), turning a panic into an error so that the temporary
// files are still removed.
func runCheck(check func(string) error, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &CheckPanic{r}
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
	if loc, ok := m.ext[t]; ok && IsExternal(t) {
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
	trackTemp(f.Name())
	lockTemp(f)
	if err := f.Chmod(outputMode); err != nil {
		untrackTemp(f.Name())
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
