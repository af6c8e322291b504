package model

import (
	"strconv"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// AttrGraphs lists the graphs an attribute holds: its graph, then its
// graphs.
func AttrGraphs(a *onnxpb.AttributeProto) []*onnxpb.GraphProto {
	if a.G == nil {
		return a.Graphs
	}
	return append([]*onnxpb.GraphProto{a.G}, a.Graphs...)
}

// SubgraphReads calls fn with every name the subgraphs of n read, at any
// depth: their nodes' inputs and their outputs (a body may hand an outer
// value straight out). Names a subgraph defines itself are included too,
// which errs on the side of "read".
func SubgraphReads(n *onnxpb.NodeProto, fn func(name string)) {
	for _, a := range n.Attribute {
		for _, g := range AttrGraphs(a) {
			for _, x := range g.Node {
				for _, in := range x.Input {
					fn(in)
				}
				SubgraphReads(x, fn)
			}
			for _, o := range g.Output {
				fn(o.Name)
			}
		}
	}
}

// NodeLabel names node i of a graph for messages: its name, or "#i" when it
// has none. A label is for people; code that needs a node again keeps its
// index, since a model may name a node "#1" too.
func NodeLabel(n *onnxpb.NodeProto, i int) string {
	if n.Name != "" {
		return n.Name
	}
	return "#" + strconv.Itoa(i)
}

// IsStd says whether n is an operator of the default ONNX domain.
func IsStd(n *onnxpb.NodeProto) bool { return n.Domain == "" || n.Domain == "ai.onnx" }
