package ort

import (
	"errors"
	"fmt"
	"os"

	onnxrt "github.com/yalue/onnxruntime_go"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

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
	sess    *onnxrt.DynamicAdvancedSession
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
	so, err := onnxrt.NewSessionOptions()
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
		if err := so.SetGraphOptimizationLevel(onnxrt.GraphOptimizationLevelDisableAll); err != nil {
			return nil, err
		}
	}
	// onnxruntime_go has no way to ask a live session for its inputs, so
	// this loads the model once more.
	ins, outs, err := onnxrt.GetInputOutputInfoWithOptions(path, so)
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
	s.sess, err = onnxrt.NewDynamicAdvancedSession(path, inNames, outNames, so)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// rtIoInfo combines what ONNX Runtime reports with the dimension names
// declared in the model.
func rtIoInfo(in onnxrt.InputOutputInfo, declared map[string]*onnxpb.ValueInfoProto) (IOInfo, error) {
	if in.OrtValueType != onnxrt.ONNXTypeTensor {
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
	run := s.run
	if s.sess != nil && len(s.inputs) == 0 && len(inputs) == 0 {
		run = func(map[string]HostTensor) (map[string]HostTensor, error) { return s.runNoInputs() }
	}
	out, err := run(inputs)
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
	var values []onnxrt.Value
	defer func() {
		for _, v := range values {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	dimVals := map[string]int64{}
	ins := make([]onnxrt.Value, len(s.inputs))
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
	outs, err := s.bindOutputs(dimVals, &values)
	if err != nil {
		return nil, err
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

// bindOutputs makes the outputs onnxruntime_go v1.27.0 cannot allocate
// itself (scalars, 16-bit floats), sized from the inputs' named dimensions
// (dimVals), and adds them to values for the caller to destroy; nil
// entries are allocated by onnxruntime_go.
func (s *Session) bindOutputs(dimVals map[string]int64, values *[]onnxrt.Value) ([]onnxrt.Value, error) {
	outs := make([]onnxrt.Value, len(s.outputs))
	for i, info := range s.outputs {
		if !info.Unranked && len(info.Shape) == 0 {
			// onnxruntime_go v1.27.0 cannot wrap a rank-0 output it
			// allocates (its tensors need a dimension): bind a scalar.
			v, err := emptyScalar(info.Elem)
			if err != nil {
				return nil, fmt.Errorf("output %q: %w", info.Name, err)
			}
			*values = append(*values, v)
			outs[i] = v
			continue
		}
		if info.Elem != onnxpb.TensorProto_FLOAT16 && info.Elem != onnxpb.TensorProto_BFLOAT16 {
			continue // onnxruntime_go allocates it
		}
		shape := make(onnxrt.Shape, len(info.Shape))
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
		v, err := onnxrt.NewCustomDataTensor(shape, make([]byte, 2*n), onnxrt.TensorElementDataType(info.Elem))
		if err != nil {
			return nil, fmt.Errorf("output %q: allocating %v: %w", info.Name, shape, err)
		}
		*values = append(*values, v)
		outs[i] = v
	}
	return outs, nil
}

func rtHasIO(infos []IOInfo, name string) bool {
	for _, in := range infos {
		if in.Name == name {
			return true
		}
	}
	return false
}
