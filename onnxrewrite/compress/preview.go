package compress

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Preview returns a copy of m with the named tables rewritten as Compress
// will rewrite them (layout, packing, bags), from placeholder codes (all
// zero, M and K as given or 2x16) and a codebook in the type auto would
// likely choose (or the one asked for): a model of the output's form, built in a moment, which the caller saves and
// checks as it will the output (Options.CheckOutput), so that an output a
// check would refuse fails before minutes of learning. m is not changed; the
// copy shares its tensors, which a rewrite does not modify.
func Preview(m *model.Model, names []string, opts Options) (*model.Model, error) {
	p := m.Derive(sharedClone(m.Proto))
	mm, k := opts.M, opts.K
	if mm == 0 {
		mm, k = 2, 16
	}
	served := map[string]bool{} // copies an earlier table's codes now serve
	for _, name := range names {
		if served[name] {
			continue
		}
		inv, err := onnxrewrite.FindTables(p)
		if err != nil {
			return nil, err
		}
		tb, err := inv.Table(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		if tb.Rewritable() != nil {
			continue // Compress says why and leaves it alone
		}
		rows, d := int(tb.Shape[0]), int(tb.Shape[1])
		c := codes.Codes{Rows: rows, M: mm, K: k, Data: make([]uint16, rows*mm)}
		b := codes.Codebook{M: mm, K: k, D: d, Data: make([]float32, mm*k*d)}
		// auto's likely type (float32 only if rounding costs over 1%).
		dtype, _, err := codebookChoice(tb, opts.CodebookDType)
		if err != nil {
			return nil, err
		}
		ro := onnxrewrite.RewriteOptions{Table: name, Layout: opts.Layout, NoPack: opts.NoPack, NoBag: opts.NoBag, CodebookDType: dtype}
		rep, err := onnxrewrite.RewriteTable(p, c, b, ro)
		if err != nil {
			return nil, err
		}
		for _, cp := range rep.Copies {
			served[cp.Name] = true
		}
	}
	return p, nil
}

// sharedClone copies a model's graphs and nodes but not its initializers,
// whose tensors the copy shares: a rewrite edits graphs and nodes (and
// drops initializers from a graph's list), never a tensor it keeps, and
// external tensors are known to the model by pointer.
func sharedClone(mp *onnxpb.ModelProto) *onnxpb.ModelProto {
	var inits [][]*onnxpb.TensorProto
	eachGraph(mp.Graph, func(g *onnxpb.GraphProto) {
		inits = append(inits, g.Initializer)
		g.Initializer = nil
	})
	c := proto.Clone(mp).(*onnxpb.ModelProto)
	i := 0
	eachGraph(mp.Graph, func(g *onnxpb.GraphProto) { g.Initializer = inits[i]; i++ })
	i = 0
	eachGraph(c.Graph, func(g *onnxpb.GraphProto) { g.Initializer = slices.Clone(inits[i]); i++ })
	return c
}

// eachGraph calls fn on g and every subgraph below it, parents first, in
// node and attribute order.
func eachGraph(g *onnxpb.GraphProto, fn func(*onnxpb.GraphProto)) {
	if g == nil {
		return
	}
	fn(g)
	for _, n := range g.Node {
		for _, a := range n.Attribute {
			for _, sg := range model.AttrGraphs(a) {
				eachGraph(sg, fn)
			}
		}
	}
}
