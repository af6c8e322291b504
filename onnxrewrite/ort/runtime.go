package ort

// This file wraps ONNX Runtime (through github.com/yalue/onnxruntime_go) so
// that models can be run on plain Go tensors, e.g. to compare a rewritten
// model's outputs with the original's.

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sync"

	ort "github.com/yalue/onnxruntime_go"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// runtimeLibName is the file installed by scripts/install-onnxruntime.sh.
const runtimeLibName = "libonnxruntime.so.1"

// RuntimeLibrary finds the ONNX Runtime shared library: the file named by
// $ONNXRUNTIME_LIB if set, else libonnxruntime.so.1 in
// ${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-1.30.0}, where
// scripts/install-onnxruntime.sh puts it.
func RuntimeLibrary() (string, error) {
	if p := os.Getenv("ONNXRUNTIME_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("onnxruntime: $ONNXRUNTIME_LIB: %w", err)
		}
		return p, nil
	}
	dir := os.Getenv("EMBSHRINK_ORT_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("onnxruntime: cannot find the library: %w; set $ONNXRUNTIME_LIB", err)
		}
		dir = filepath.Join(home, ".cache", "embshrink", "onnxruntime-1.30.0")
	}
	p := filepath.Join(dir, runtimeLibName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("onnxruntime: library not found at %s (install it with `bash scripts/install-onnxruntime.sh`, or set $ONNXRUNTIME_LIB to a libonnxruntime.so): %w", p, err)
	}
	return p, nil
}

// ortEnv counts the open Runtimes. ONNX Runtime has one environment per
// process, so it is created by the first OpenRuntime and destroyed by the
// last Close.
var ortEnv struct {
	mu   sync.Mutex
	refs int
}

// Runtime is a handle on the process's ONNX Runtime environment. Each
// Runtime returned by OpenRuntime must be closed.
type Runtime struct {
	mu       sync.Mutex
	closed   bool
	sessions map[*Session]bool // open, closed with the Runtime
}

// OpenRuntime loads the ONNX Runtime library (see RuntimeLibrary) and
// initialises its environment, or shares the one already initialised.
func OpenRuntime() (*Runtime, error) {
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	if ortEnv.refs == 0 {
		lib, err := RuntimeLibrary()
		if err != nil {
			return nil, err
		}
		ort.SetSharedLibraryPath(lib)
		if err := ort.InitializeEnvironment(ort.WithLogLevelFatal()); err != nil {
			return nil, fmt.Errorf("onnxruntime: initialising %s: %w", lib, err)
		}
	}
	ortEnv.refs++
	return &Runtime{}, nil
}

// Close releases r and closes the sessions it opened that are still open
// (their Close is then a no-op), so that none outlives the environment,
// which is destroyed when the last Runtime is closed. It must not overlap
// with a Run. Closing twice is a no-op.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for s := range r.sessions {
		errs = append(errs, s.release())
	}
	r.sessions = nil
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	ortEnv.refs--
	if ortEnv.refs == 0 {
		if err := ort.DestroyEnvironment(); err != nil {
			return fmt.Errorf("onnxruntime: destroying the environment: %w", err)
		}
	}
	return nil
}

// HostTensor is a plain tensor on the Go side.
type HostTensor struct {
	// Shape holds the dimensions; empty for a scalar.
	Shape []int64
	// Data holds the elements in row-major order: a []float32, []float64,
	// []int64, []int32, []uint8, []uint16 or []bool. float16 and bfloat16
	// elements are their bits in a []uint16, with Elem set accordingly.
	Data any
	// Elem is the element type. It may be left zero (UNDEFINED) on inputs
	// whose Data type says it all; float16 and bfloat16 inputs must set it.
	Elem onnxpb.TensorProto_DataType
}

// SessionOptions tune a Session.
type SessionOptions struct {
	// IntraOpThreads is the number of threads used inside an operator;
	// 0 means ONNX Runtime's default.
	IntraOpThreads int
	// DisableOptimizations turns off ONNX Runtime's graph optimisations.
	DisableOptimizations bool
}

// IOInfo describes a model input or output.
type IOInfo struct {
	Name string
	Elem onnxpb.TensorProto_DataType
	// Shape holds the dimensions, -1 for a dynamic one.
	Shape []int64
	// DimParams has the symbolic name of each dimension ("" if none),
	// as declared in the model. It has the length of Shape.
	DimParams []string
	// Unranked says the model declares no shape at all, so Shape (empty)
	// says nothing of the rank.
	Unranked bool
}

// Session runs one model file. Run may be called from several goroutines
// at once; Close must not overlap with Run.
type Session struct {
	path    string
	rt      *Runtime
	sess    *ort.DynamicAdvancedSession
	inputs  []IOInfo
	outputs []IOInfo
}

// NewSession loads the model at modelPath. ONNX Runtime resolves external
// data relative to the model's folder.
func (r *Runtime) NewSession(modelPath string, opts SessionOptions) (*Session, error) {
	// Held while the session is made, so that Close cannot destroy the
	// environment under it.
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil, fmt.Errorf("onnxruntime: %s: runtime is closed", modelPath)
	}
	s, err := rtNewSession(modelPath, opts)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %s: %w", modelPath, err)
	}
	if r.sessions == nil {
		r.sessions = map[*Session]bool{}
	}
	r.sessions[s] = true
	s.rt = r
	return s, nil
}

func rtNewSession(path string, opts SessionOptions) (*Session, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	declared, err := rtScanModelIO(path)
	if err != nil {
		return nil, fmt.Errorf("reading inputs and outputs: %w", err)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, err
	}
	defer so.Destroy()
	if opts.IntraOpThreads > 0 {
		if err := so.SetIntraOpNumThreads(opts.IntraOpThreads); err != nil {
			return nil, err
		}
	}
	if opts.DisableOptimizations {
		if err := so.SetGraphOptimizationLevel(ort.GraphOptimizationLevelDisableAll); err != nil {
			return nil, err
		}
	}
	// onnxruntime_go has no way to ask a live session for its inputs, so
	// this loads the model once more.
	ins, outs, err := ort.GetInputOutputInfoWithOptions(path, so)
	if err != nil {
		return nil, err
	}
	s := &Session{path: path}
	var inNames, outNames []string
	for _, in := range ins {
		info, err := rtIoInfo(in, declared)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		s.inputs = append(s.inputs, info)
		inNames = append(inNames, in.Name)
	}
	for _, out := range outs {
		info, err := rtIoInfo(out, declared)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", out.Name, err)
		}
		s.outputs = append(s.outputs, info)
		outNames = append(outNames, out.Name)
	}
	s.sess, err = ort.NewDynamicAdvancedSession(path, inNames, outNames, so)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// rtIoInfo combines what ONNX Runtime reports with the dimension names
// declared in the model.
func rtIoInfo(in ort.InputOutputInfo, declared map[string]*onnxpb.ValueInfoProto) (IOInfo, error) {
	if in.OrtValueType != ort.ONNXTypeTensor {
		return IOInfo{}, fmt.Errorf("is a %s; only tensors are supported", in.OrtValueType)
	}
	info := IOInfo{
		Name:      in.Name,
		Elem:      onnxpb.TensorProto_DataType(in.DataType),
		Shape:     append([]int64{}, in.Dimensions...),
		DimParams: make([]string, len(in.Dimensions)),
	}
	if vi := declared[in.Name]; vi != nil {
		tt := vi.GetType().GetTensorType()
		info.Unranked = tt != nil && tt.Shape == nil
		dims := tt.GetShape().GetDim()
		if len(dims) == len(info.Shape) {
			for i, d := range dims {
				info.DimParams[i] = d.GetDimParam()
			}
		}
	}
	return info, nil
}

// Inputs describes the model's inputs, in the order ONNX Runtime reports.
func (s *Session) Inputs() []IOInfo { return rtCloneIOInfos(s.inputs) }

// Outputs describes the model's outputs, in the order ONNX Runtime reports.
func (s *Session) Outputs() []IOInfo { return rtCloneIOInfos(s.outputs) }

func rtCloneIOInfos(v []IOInfo) []IOInfo {
	out := make([]IOInfo, len(v))
	for i, x := range v {
		x.Shape = append([]int64{}, x.Shape...)
		x.DimParams = append([]string{}, x.DimParams...)
		out[i] = x
	}
	return out
}

// Close releases the session; after its Runtime's Close it is a no-op.
func (s *Session) Close() error {
	if s.rt != nil {
		s.rt.mu.Lock()
		delete(s.rt.sessions, s)
		s.rt.mu.Unlock()
	}
	return s.release()
}

func (s *Session) release() error {
	if s.sess == nil {
		return nil
	}
	err := s.sess.Destroy()
	s.sess = nil
	if err != nil {
		return fmt.Errorf("onnxruntime: %s: closing session: %w", s.path, err)
	}
	return nil
}

// Run runs the model on inputs, which must name every model input, and
// returns all outputs by name.
//
// onnxruntime_go v1.27.0 cannot hand back float16 or bfloat16 outputs that
// it allocates itself (it copies one byte per element), so Run allocates
// those outputs up front. Their shape must then be known before the run:
// static, or made of dimension names that also appear in an input's shape.
func (s *Session) Run(inputs map[string]HostTensor) (map[string]HostTensor, error) {
	out, err := s.run(inputs)
	if err != nil {
		return nil, fmt.Errorf("onnxruntime: %s: %w", s.path, err)
	}
	return out, nil
}

func (s *Session) run(inputs map[string]HostTensor) (map[string]HostTensor, error) {
	if s.sess == nil {
		return nil, errors.New("session is closed")
	}
	for name := range inputs {
		if !rtHasIO(s.inputs, name) {
			return nil, fmt.Errorf("model has no input %q", name)
		}
	}
	var values []ort.Value
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	dimVals := map[string]int64{}
	ins := make([]ort.Value, len(s.inputs))
	for i, info := range s.inputs {
		t, ok := inputs[info.Name]
		if !ok {
			return nil, fmt.Errorf("missing input %q", info.Name)
		}
		v, elem, err := toOrtValue(t)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", info.Name, err)
		}
		values = append(values, v)
		if elem != info.Elem {
			return nil, fmt.Errorf("input %q: model wants %s elements, got %s", info.Name, info.Elem, elem)
		}
		ins[i] = v
		if len(t.Shape) == len(info.DimParams) {
			for j, p := range info.DimParams {
				if p != "" {
					dimVals[p] = t.Shape[j]
				}
			}
		}
	}
	outs := make([]ort.Value, len(s.outputs))
	for i, info := range s.outputs {
		if info.Elem != onnxpb.TensorProto_FLOAT16 && info.Elem != onnxpb.TensorProto_BFLOAT16 {
			continue // onnxruntime_go allocates it
		}
		shape := make(ort.Shape, len(info.Shape))
		for j, d := range info.Shape {
			if d < 0 {
				v, ok := dimVals[info.DimParams[j]]
				if info.DimParams[j] == "" || !ok {
					return nil, fmt.Errorf("output %q is %s with dynamic dimension %d, which onnxruntime_go v1.27.0 cannot return; its size must follow from an input's named dimension", info.Name, info.Elem, j)
				}
				d = v
			}
			shape[j] = d
		}
		n, err := ElemCount(shape)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", info.Name, err)
		}
		v, err := ort.NewCustomDataTensor(shape, make([]byte, 2*n), ort.TensorElementDataType(info.Elem))
		if err != nil {
			return nil, fmt.Errorf("output %q: allocating %v: %w", info.Name, shape, err)
		}
		values = append(values, v)
		outs[i] = v
	}
	if err := s.sess.Run(ins, outs); err != nil {
		// Outputs onnxruntime_go allocated before failing are dropped
		// by it; ours are destroyed by the deferred loop.
		return nil, err
	}
	result := make(map[string]HostTensor, len(outs))
	for i, v := range outs {
		if v == nil {
			return nil, fmt.Errorf("output %q was not produced", s.outputs[i].Name)
		}
		if !rtContainsValue(values, v) {
			values = append(values, v) // allocated by onnxruntime_go
		}
		t, err := fromOrtValue(v)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", s.outputs[i].Name, err)
		}
		result[s.outputs[i].Name] = t
	}
	return result, nil
}

func rtHasIO(infos []IOInfo, name string) bool {
	for _, in := range infos {
		if in.Name == name {
			return true
		}
	}
	return false
}

func rtContainsValue(vs []ort.Value, v ort.Value) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// ElemCount is the number of elements of a shape, refusing negative
// dimensions and counts whose bytes would overflow.
func ElemCount(shape []int64) (int, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt64/8/d) {
			return 0, fmt.Errorf("invalid shape %v", shape)
		}
		n *= d
	}
	return int(n), nil
}

// newOrtTensor makes an onnxruntime_go tensor over data; an empty shape
// gives a scalar.
func newOrtTensor[T ort.TensorData](shape ort.Shape, data []T) (ort.Value, error) {
	if len(shape) == 0 {
		return ort.NewScalar(data[0])
	}
	return ort.NewTensor(shape, data)
}

// toOrtValue converts t, checking that its element type, data type and
// shape agree.
func toOrtValue(t HostTensor) (ort.Value, onnxpb.TensorProto_DataType, error) {
	n, err := ElemCount(t.Shape)
	if err != nil {
		return nil, 0, err
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("shape %v has no elements; onnxruntime_go v1.27.0 cannot pass empty tensors", t.Shape)
	}
	shape := ort.Shape(append([]int64{}, t.Shape...))
	var (
		natural onnxpb.TensorProto_DataType
		length  int
	)
	switch d := t.Data.(type) {
	case []float32:
		natural, length = onnxpb.TensorProto_FLOAT, len(d)
	case []float64:
		natural, length = onnxpb.TensorProto_DOUBLE, len(d)
	case []int64:
		natural, length = onnxpb.TensorProto_INT64, len(d)
	case []int32:
		natural, length = onnxpb.TensorProto_INT32, len(d)
	case []uint8:
		natural, length = onnxpb.TensorProto_UINT8, len(d)
	case []uint16:
		natural, length = onnxpb.TensorProto_UINT16, len(d)
	case []bool:
		natural, length = onnxpb.TensorProto_BOOL, len(d)
	default:
		return nil, 0, fmt.Errorf("unsupported data type %T", t.Data)
	}
	elem := t.Elem
	if elem == onnxpb.TensorProto_UNDEFINED {
		elem = natural
	}
	half := natural == onnxpb.TensorProto_UINT16 &&
		(elem == onnxpb.TensorProto_FLOAT16 || elem == onnxpb.TensorProto_BFLOAT16)
	if elem != natural && !half {
		return nil, 0, fmt.Errorf("element type %s does not match data of type %T", elem, t.Data)
	}
	if length != n {
		return nil, 0, fmt.Errorf("shape %v needs %d elements, data has %d", t.Shape, n, length)
	}
	v, err := newOrtValue(shape, t.Data, elem, half)
	return v, elem, err
}

func newOrtValue(shape ort.Shape, data any, elem onnxpb.TensorProto_DataType, half bool) (ort.Value, error) {
	switch d := data.(type) {
	case []float32:
		return newOrtTensor(shape, d)
	case []float64:
		return newOrtTensor(shape, d)
	case []int64:
		return newOrtTensor(shape, d)
	case []int32:
		return newOrtTensor(shape, d)
	case []uint8:
		return newOrtTensor(shape, d)
	case []bool:
		return newOrtTensor(shape, d)
	case []uint16:
		if !half {
			return newOrtTensor(shape, d)
		}
		if len(shape) == 0 {
			return nil, fmt.Errorf("onnxruntime_go v1.27.0 cannot pass %s scalars; use shape [1]", elem)
		}
		raw := make([]byte, 2*len(d))
		for i, x := range d {
			binary.LittleEndian.PutUint16(raw[2*i:], x)
		}
		return ort.NewCustomDataTensor(shape, raw, ort.TensorElementDataType(elem))
	}
	panic("unreachable")
}

// fromOrtValue copies an output into a HostTensor.
func fromOrtValue(v ort.Value) (HostTensor, error) {
	shape := []int64(v.GetShape())
	if shape == nil {
		shape = []int64{}
	} else {
		shape = append([]int64{}, shape...)
	}
	switch x := v.(type) {
	case *ort.Tensor[float32]:
		return HostTensor{shape, append([]float32{}, x.GetData()...), onnxpb.TensorProto_FLOAT}, nil
	case *ort.Tensor[float64]:
		return HostTensor{shape, append([]float64{}, x.GetData()...), onnxpb.TensorProto_DOUBLE}, nil
	case *ort.Tensor[int64]:
		return HostTensor{shape, append([]int64{}, x.GetData()...), onnxpb.TensorProto_INT64}, nil
	case *ort.Tensor[int32]:
		return HostTensor{shape, append([]int32{}, x.GetData()...), onnxpb.TensorProto_INT32}, nil
	case *ort.Tensor[uint8]:
		return HostTensor{shape, append([]uint8{}, x.GetData()...), onnxpb.TensorProto_UINT8}, nil
	case *ort.Tensor[uint16]:
		return HostTensor{shape, append([]uint16{}, x.GetData()...), onnxpb.TensorProto_UINT16}, nil
	case *ort.Tensor[bool]:
		return HostTensor{shape, append([]bool{}, x.GetData()...), onnxpb.TensorProto_BOOL}, nil
	case *ort.Scalar[float32]:
		return HostTensor{shape, []float32{x.GetData()}, onnxpb.TensorProto_FLOAT}, nil
	case *ort.Scalar[float64]:
		return HostTensor{shape, []float64{x.GetData()}, onnxpb.TensorProto_DOUBLE}, nil
	case *ort.Scalar[int64]:
		return HostTensor{shape, []int64{x.GetData()}, onnxpb.TensorProto_INT64}, nil
	case *ort.Scalar[int32]:
		return HostTensor{shape, []int32{x.GetData()}, onnxpb.TensorProto_INT32}, nil
	case *ort.CustomDataTensor:
		elem := onnxpb.TensorProto_DataType(x.DataType())
		if elem != onnxpb.TensorProto_FLOAT16 && elem != onnxpb.TensorProto_BFLOAT16 {
			return HostTensor{}, fmt.Errorf("unsupported output element type %s", elem)
		}
		raw := x.GetData()
		bits := make([]uint16, len(raw)/2)
		for i := range bits {
			bits[i] = binary.LittleEndian.Uint16(raw[2*i:])
		}
		return HostTensor{shape, bits, elem}, nil
	}
	return HostTensor{}, fmt.Errorf("unsupported output value %T (element type %s)", v, onnxpb.TensorProto_DataType(v.DataType()))
}

// rtScanModelIO reads the graph inputs and outputs declared in the model file
// without loading its initializers: it walks the protobuf wire format and
// seeks past everything else.
func rtScanModelIO(path string) (map[string]*onnxpb.ValueInfoProto, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	sc := &rtWireScanner{f: f, br: bufio.NewReader(f)}
	out := map[string]*onnxpb.ValueInfoProto{}
	// ModelProto.graph is field 7; GraphProto.input 11, output 12.
	err = sc.fields(fi.Size(), func(num protowire.Number, typ protowire.Type, n int64) (bool, error) {
		if num != 7 || typ != protowire.BytesType {
			return false, nil
		}
		return true, sc.fields(sc.pos+n, func(num protowire.Number, typ protowire.Type, n int64) (bool, error) {
			if (num != 11 && num != 12) || typ != protowire.BytesType {
				return false, nil
			}
			b := make([]byte, n)
			if _, err := io.ReadFull(sc.br, b); err != nil {
				return true, err
			}
			sc.pos += n
			vi := &onnxpb.ValueInfoProto{}
			if err := proto.Unmarshal(b, vi); err != nil {
				return true, err
			}
			out[vi.GetName()] = vi
			return true, nil
		})
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// rtWireScanner walks protobuf messages in a file, skipping fields by seeking.
type rtWireScanner struct {
	f   *os.File
	br  *bufio.Reader
	pos int64
}

// fields calls visit for each field up to offset end. For a length-delimited
// field n is its length; visit returns true if it consumed the n bytes.
func (s *rtWireScanner) fields(end int64, visit func(protowire.Number, protowire.Type, int64) (bool, error)) error {
	for s.pos < end {
		tag, err := s.varint()
		if err != nil {
			return err
		}
		num, typ := protowire.DecodeTag(tag)
		if num < protowire.MinValidNumber {
			return errors.New("invalid protobuf field number")
		}
		var n int64
		switch typ {
		case protowire.VarintType:
			_, err = s.varint()
		case protowire.Fixed32Type:
			err = s.skip(4)
		case protowire.Fixed64Type:
			err = s.skip(8)
		case protowire.BytesType:
			var l uint64
			l, err = s.varint()
			if err == nil && l > uint64(end-s.pos) {
				err = errors.New("protobuf field runs past its message")
			}
			n = int64(l)
		default:
			err = fmt.Errorf("unsupported protobuf wire type %d", typ)
		}
		if err != nil {
			return err
		}
		if typ != protowire.BytesType {
			continue
		}
		start := s.pos
		done, err := visit(num, typ, n)
		if err != nil {
			return err
		}
		if !done {
			if err := s.skip(n); err != nil {
				return err
			}
		} else if s.pos != start+n {
			return errors.New("protobuf message length mismatch")
		}
	}
	if s.pos != end {
		return errors.New("protobuf message runs past its end")
	}
	return nil
}

func (s *rtWireScanner) varint() (uint64, error) {
	var v uint64
	for i := 0; i < 10; i++ {
		b, err := s.br.ReadByte()
		if err != nil {
			return 0, rtNoEOF(err)
		}
		s.pos++
		v |= uint64(b&0x7f) << (7 * i)
		if b < 0x80 {
			return v, nil
		}
	}
	return 0, errors.New("invalid protobuf varint")
}

func (s *rtWireScanner) skip(n int64) error {
	if n <= int64(s.br.Buffered()) {
		s.br.Discard(int(n))
		s.pos += n
		return nil
	}
	s.pos += n
	if _, err := s.f.Seek(s.pos, io.SeekStart); err != nil {
		return err
	}
	s.br.Reset(s.f)
	return nil
}

func rtNoEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
