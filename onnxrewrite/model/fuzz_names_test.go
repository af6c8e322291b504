//go:build cgo

package model_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// hostileNameSeeds are FuzzLoad seeds for the name cases of the hostile
// table: a duplicate initializer, two nodes of one name, a node named like
// an internal label, a duplicate graph output, no graph inputs.
func hostileNameSeeds(f *testing.F) [][]byte {
	edits := []func(g *onnxpb.GraphProto){
		func(g *onnxpb.GraphProto) {
			g.Initializer = append(g.Initializer, proto.Clone(g.Initializer[0]).(*onnxpb.TensorProto))
		},
		func(g *onnxpb.GraphProto) {
			n := proto.Clone(g.Node[0]).(*onnxpb.NodeProto)
			n.Output = []string{"second"}
			g.Node = append(g.Node, n)
		},
		func(g *onnxpb.GraphProto) { g.Node[0].Name = "#1" },
		func(g *onnxpb.GraphProto) { g.Output = append(g.Output, g.Output[0]) },
		func(g *onnxpb.GraphProto) { g.Input = nil },
	}
	var out [][]byte
	for _, edit := range edits {
		mp := testkit.GatherModel(13, 20, 4)
		edit(mp.Graph)
		b, err := proto.Marshal(mp)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
