package onnxrewrite

import (
	"fmt"
	"os"

	onnxgo "github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/simple"
	"gonum.org/v1/gonum/graph/topo"
	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// CheckGraph re-reads a model file with github.com/owulveryck/onnx-go, an
// ONNX decoder independent of this package (its own protobuf code, its own
// graph builder), and checks the main graph's dataflow as that decoder sees
// it: the file decodes, the graph is acyclic, and every value a node reads is
// a graph input, an initializer or another node's output. It reads no tensor
// data and does not look inside subgraphs; ONNX Runtime checks the rest.
func CheckGraph(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	g := simple.NewSimpleGraph()
	if err := onnxgo.NewModel(g).UnmarshalBinary(b); err != nil {
		return fmt.Errorf("%s: onnx-go cannot decode the model: %w", path, err)
	}
	if _, err := topo.Sort(g); err != nil {
		return fmt.Errorf("%s: onnx-go finds a cycle in the graph: %w", path, err)
	}
	// Which names may stand without a producer: our own reading of the
	// file only says what is declared, not how it is wired.
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, mp); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
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
