package onnxrewrite

import "github.com/embshrink/embshrink/onnxrewrite/onnxpb"

// isGraphOutput says whether g lists name among its outputs: a table that
// is also an output must stay defined (decoded) after a rewrite.
func isGraphOutput(g *onnxpb.GraphProto, name string) bool {
	for _, o := range g.Output {
		if o.Name == name {
			return true
		}
	}
	return false
}
