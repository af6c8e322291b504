package model

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// checkNames refuses names a graph defines twice: two initializers (which
// one a reader gets is up to the runtime), two graph inputs or two graph
// outputs of one name, and two nodes writing one tensor. Subgraphs are
// checked too.
func checkNames(path string, g *onnxpb.GraphProto, where string) error {
	dup := func(kind string, names func(yield func(string) bool)) error {
		seen := map[string]bool{}
		for n := range names {
			if n == "" {
				continue
			}
			if seen[n] {
				return fmt.Errorf("%s: graph %s: %s %q is defined twice", path, where, kind, n)
			}
			seen[n] = true
		}
		return nil
	}
	err := dup("initializer", func(yield func(string) bool) {
		for _, t := range g.Initializer {
			if !yield(t.Name) {
				return
			}
		}
		for _, s := range g.SparseInitializer {
			if s.Values != nil && !yield(s.Values.Name) {
				return
			}
		}
	})
	if err == nil {
		err = dup("input", func(yield func(string) bool) {
			for _, v := range g.Input {
				if !yield(v.Name) {
					return
				}
			}
		})
	}
	if err == nil {
		err = dup("output", func(yield func(string) bool) {
			for _, v := range g.Output {
				if !yield(v.Name) {
					return
				}
			}
		})
	}
	if err == nil {
		err = dup("node output", func(yield func(string) bool) {
			for _, n := range g.Node {
				for _, o := range n.Output {
					if !yield(o) {
						return
					}
				}
			}
		})
	}
	if err == nil {
		// ONNX Runtime refuses a graph with two nodes of one name.
		err = dup("node name", func(yield func(string) bool) {
			for _, n := range g.Node {
				if !yield(n.Name) {
					return
				}
			}
		})
	}
	if err != nil {
		return err
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
