package model

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// checkNames refuses names a graph defines twice: two initializers (which
// one a reader gets is up to the runtime), two graph inputs or two graph
// outputs of one name, two nodes writing one tensor, and two nodes of one
// name (ONNX Runtime refuses those). Subgraphs are checked too.
func checkNames(path string, g *onnxpb.GraphProto, where string) error {
	var inits, inputs, outputs, produced, nodes []string
	for _, t := range g.Initializer {
		inits = append(inits, t.Name)
	}
	for _, s := range g.SparseInitializer {
		if s.Values != nil {
			inits = append(inits, s.Values.Name)
		}
	}
	for _, v := range g.Input {
		inputs = append(inputs, v.Name)
	}
	for _, v := range g.Output {
		outputs = append(outputs, v.Name)
	}
	for _, n := range g.Node {
		produced = append(produced, n.Output...)
		nodes = append(nodes, n.Name)
	}
	for _, set := range []struct {
		kind  string
		names []string
	}{{"initializer", inits}, {"input", inputs}, {"output", outputs}, {"node output", produced}, {"node name", nodes}} {
		if n, ok := firstRepeat(set.names); ok {
			return fmt.Errorf("%s: graph %s: %s %q is defined twice", path, where, set.kind, n)
		}
	}
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			sub := append([]*onnxpb.GraphProto{}, a.Graphs...)
			if a.G != nil {
				sub = append(sub, a.G)
			}
			for _, s := range sub {
				if err := checkNames(path, s, where+"/"+n.Name+"."+a.Name); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// firstRepeat is the first non-empty name that comes a second time.
func firstRepeat(names []string) (string, bool) {
	seen := map[string]bool{}
	for _, n := range names {
		if n == "" {
			continue
		}
		if seen[n] {
			return n, true
		}
		seen[n] = true
	}
	return "", false
}
