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

// CheckGraph checks a written model file twice. First with this package's
// CheckDataflow (every graph, subgraphs included). Then it re-reads the file
// with github.com/owulveryck/onnx-go, an ONNX decoder independent of this
// package (its own protobuf code, its own graph builder), and checks the
// main graph's dataflow as that decoder sees it: the file decodes, the graph
// is acyclic, and every value a node reads is a graph input, an initializer
// or another node's output. onnx-go does not decode graph-valued attributes
// (the bodies of If, Loop, Scan): for such models only the first check
// runs. Neither reads tensor data; ONNX Runtime checks the rest.
func CheckGraph(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if mp.Graph == nil {
		return fmt.Errorf("%s: no graph", path)
	}
	if err := model.CheckProto(path, mp); err != nil {
		return err
	}
	g := simple.NewSimpleGraph()
	if err := onnxgo.NewModel(g).UnmarshalBinary(b); err != nil {
		var ni *onnxgo.ErrNotImplemented
		if errors.As(err, &ni) {
			return nil // a feature onnx-go lacks, not a fault of the model
		}
		return fmt.Errorf("%s: onnx-go cannot decode the model: %w", path, err)
	}
	if _, err := topo.Sort(g); err != nil {
		return fmt.Errorf("%s: onnx-go finds a cycle in the graph: %w", path, err)
	}
	// Which names may stand without a producer: our own reading of the
	// file only says what is declared, not how it is wired.
	declared := map[string]bool{"": true}
	for _, in := range mp.Graph.Input {
		declared[in.Name] = true
	}
	for _, t := range mp.Graph.Initializer {
		declared[t.Name] = true
	}
	for _, n := range mp.Graph.Node {
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
		name := n.(*simple.Node).GetName()
		if !declared[name] {
			return fmt.Errorf("%s: value %q is read but nothing defines it", path, name)
		}
	}
	return nil
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
