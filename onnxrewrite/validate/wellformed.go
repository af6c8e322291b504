package validate

import (
	"errors"
	"fmt"
	"os"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/simple"
	"gonum.org/v1/gonum/graph/topo"
	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// CheckGraph is the structural check of a written model file, held to the
// ONNX spec: the file decodes with this project's own protobuf types and
// model.CheckProto finds every graph (subgraphs included) wired: every value
// a node reads is a graph input, an initializer (dense or sparse), another
// node's output or an enclosing graph's value; no value is written twice;
// no cycle. It reads no tensor data; ONNX Runtime (CheckLoads) checks the
// rest. Together they are the gate a written model passes before it is
// renamed into place; onnx-go's reading (ReadOnnxGo) is reported beside
// them and never refuses a model.
func CheckGraph(path string) error {
	mp, err := decodeFile(path)
	if err != nil {
		return err
	}
	return model.CheckProto(path, mp)
}

func decodeFile(path string) (*onnxpb.ModelProto, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if mp.Graph == nil {
		return nil, fmt.Errorf("%s: no graph", path)
	}
	return mp, nil
}

// OnnxGoReading is what github.com/owulveryck/onnx-go, a decoder
// independent of this project (its own protobuf code and graph builder),
// made of a model file: whether it decoded the main graph, how many nodes
// its graph holds, and the dataflow it sees. onnx-go v0.5.0 decodes only
// part of ONNX (no float16, bool or uint8 tensors stored as raw data, no
// graph-valued attributes, no sparse initializers), so a model it cannot
// read says nothing against the model.
type OnnxGoReading struct {
	// Decoded says onnx-go built the main graph.
	Decoded bool `json:"decoded"`
	// Nodes counts the nodes of onnx-go's graph (values and operators).
	Nodes int `json:"nodes,omitempty"`
	// Agrees says onnx-go's graph is acyclic and every value a node reads
	// is declared, as embshrink's own check finds.
	Agrees bool `json:"agrees"`
	// Note says what onnx-go could not decode, or what it found.
	Note string `json:"note"`
}

func (r OnnxGoReading) String() string {
	if r.Agrees {
		return fmt.Sprintf("onnx-go v0.5.0 decoded it (%d graph nodes): acyclic, every value read is defined", r.Nodes)
	}
	return "onnx-go v0.5.0 " + r.Note
}

// ReadOnnxGo decodes a model file with onnx-go and reports what it made of
// it. It never fails: a panic inside onnx-go, a feature it lacks or an error
// it returns is a note in the reading.
func ReadOnnxGo(path string) (r OnnxGoReading) {
	b, err := os.ReadFile(path)
	if err != nil {
		return OnnxGoReading{Note: "could not read the file: " + err.Error()}
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil || mp.Graph == nil {
		return OnnxGoReading{Note: "was not run: the file is not a model embshrink decodes"}
	}
	defer func() {
		if p := recover(); p != nil {
			r = OnnxGoReading{Note: fmt.Sprintf("panicked while decoding it (%v)", p)}
		}
	}()
	g := simple.NewSimpleGraph()
	if err := onnxgo.NewModel(g).UnmarshalBinary(b); err != nil {
		var ni *onnxgo.ErrNotImplemented
		if errors.As(err, &ni) {
			return OnnxGoReading{Note: "cannot decode it, a feature it does not implement: " + err.Error()}
		}
		return OnnxGoReading{Note: "cannot decode it: " + err.Error()}
	}
	r = OnnxGoReading{Decoded: true, Nodes: g.Nodes().Len()}
	if _, err := topo.Sort(g); err != nil {
		r.Note = "finds a cycle in the graph: " + err.Error()
		return r
	}
	if name, ok := undeclaredRead(g, mp.Graph); ok {
		r.Note = fmt.Sprintf("reads value %q as defined by nothing", name)
		return r
	}
	r.Agrees = true
	return r
}

// undeclaredRead returns a value of onnx-go's graph that nothing produces
// and that the file does not declare as an input or initializer.
func undeclaredRead(g *simple.Graph, mg *onnxpb.GraphProto) (string, bool) {
	declared := map[string]bool{"": true}
	for _, in := range mg.Input {
		declared[in.Name] = true
	}
	for _, t := range mg.Initializer {
		declared[t.Name] = true
	}
	for _, s := range mg.SparseInitializer {
		if s.Values != nil {
			declared[s.Values.Name] = true
		}
	}
	for _, n := range mg.Node {
		if len(n.Input) == 0 {
			declared[n.Name+"/input"] = true // onnx-go's stand-in operand
		}
	}
	nodes := g.Nodes()
	for nodes.Next() {
		n := nodes.Node()
		if g.From(n.ID()).Len() > 0 {
			continue
		}
		if name := n.(*simple.Node).GetName(); !declared[name] {
			return name, true
		}
	}
	return "", false
}

// CheckLoads opens the model in ONNX Runtime with its graph optimisations
// off (it reads the graph and the weights, and folds nothing) and closes
// it: the runtime embshrink validates with accepts the file. Without the
// runtime library the error wraps ort.ErrNoRuntime.
func CheckLoads(path string) error {
	rt, err := ort.OpenRuntime()
	if err != nil {
		return err
	}
	defer rt.Close()
	s, err := rt.NewSession(path, ort.SessionOptions{DisableOptimizations: true, IntraOpThreads: 1})
	if err != nil {
		return fmt.Errorf("ONNX Runtime cannot load it: %w", err)
	}
	return s.Close()
}
