package onnxrewrite

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"google.golang.org/protobuf/proto"
)

// IDSite is one embedding Gather of a table, with the main-graph value
// that holds its ids.
type IDSite struct {
	Table string
	Rows  int64
	Ref   NodeRef
	// ids is the name of the Gather's indices in the main graph; "" when
	// they are computed inside a subgraph (err says so).
	IDs string
	// Indices is the Gather's indices input, in whatever graph defines
	// it: IDs when that is the main graph. For a Gather in a function's
	// body it is the call's argument, for a fused op the input it reads
	// the table's ids from; "" with Positions.
	Indices string
	// Positions says the reader reads rows 0..S-1 of the table, S the
	// length of the last axis of IDs, at every position of IDs (a fused
	// op's own position ids): IDs are not the ids but what they count
	// along, and ExposeIDs computes the positions.
	Positions bool
	Err       error
}

// IDSites lists the embedding Gathers of the named tables (every table
// when names is empty). A Gather inside a subgraph is usable when its ids
// are a value of the main graph (computed there or a graph input); for the
// others err says why not.
func IDSites(m *model.Model, inv *Inventory, names []string) ([]IDSite, error) {
	var tables []*Table
	if len(names) == 0 {
		for i := range inv.Tables {
			tables = append(tables, &inv.Tables[i])
		}
	}
	for _, name := range names {
		if name == "" {
			return nil, fmt.Errorf("%s: empty table name", m.Path)
		}
		tb, err := inv.Table(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		tables = append(tables, tb)
	}
	var sites []IDSite
	for _, tb := range tables {
		for _, ref := range tb.Gathers {
			s := IDSite{Table: tb.Name, Rows: tb.Shape[0], Ref: ref}
			if ref.node == nil {
				return nil, fmt.Errorf("%s: table %q: Gather %s in graph %s not found", m.Path, tb.Name, ref.Node, ref.Graph)
			}
			ids, gc := ref.indices()
			if r := ref.read; r != nil && r.why != "" {
				s.Err = fmt.Errorf("%s: table %q: %s %s in graph %s: %s; only ids that are values of the main graph can be counted", m.Path, tb.Name, ref.OpType, ref.Node, ref.Graph, r.why)
				sites = append(sites, s)
				continue
			} else if r != nil && r.positionsOf != "" {
				ids, s.Positions = r.positionsOf, true
			}
			if ids == "" {
				return nil, fmt.Errorf("%s: table %q: Gather %s in graph %s not found", m.Path, tb.Name, ref.Node, ref.Graph)
			}
			if !s.Positions {
				s.Indices = ids
			}
			owner := gc
			for ; owner != nil; owner = owner.parent {
				if _, ok := owner.defs[ids]; ok {
					break
				}
			}
			switch {
			case owner == nil:
				s.Err = fmt.Errorf("%s: table %q: Gather %s in graph %s reads ids %q, which no graph defines", m.Path, tb.Name, ref.Node, ref.Graph, ids)
			case owner.parent != nil:
				s.Err = fmt.Errorf("%s: table %q: Gather %s in graph %s reads ids %q computed inside subgraph %s; only ids that are values of the main graph can be counted", m.Path, tb.Name, ref.Node, ref.Graph, ids, owner.path)
			default:
				s.IDs = ids
			}
			sites = append(sites, s)
		}
	}
	return sites, nil
}

// ExposeIDs returns a model that computes only the ids of the sites, as
// int64 outputs (one per distinct ids value, named in site order; a site
// with Positions gets the positions it reads, made from its IDs' shape),
// from a copy of m's graph pruned to what they depend on. It shares m's
// initializer tensors (and their external data) without copying them, and
// leaves m as it was.
func ExposeIDs(m *model.Model, sites []IDSite) (*model.Model, []string) {
	g0 := m.Proto.Graph
	inits := g0.Initializer
	g0.Initializer = nil
	mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	g0.Initializer = inits
	g := mp.Graph
	g.Initializer = slices.Clone(inits)
	g.ValueInfo = nil

	fresh := model.NewNamer(m).Fresh
	g.Output = nil
	type key struct {
		ids       string
		positions bool
	}
	byIDs := map[key]string{}
	names := make([]string, len(sites))
	for i, s := range sites {
		k := key{s.IDs, s.Positions}
		if out, ok := byIDs[k]; ok {
			names[i] = out
			continue
		}
		ids := s.IDs
		if s.Positions {
			ids = exposePositions(g, fresh, ids)
		}
		out := fresh("embshrink_rowcount_ids")
		g.Node = append(g.Node, &onnxpb.NodeProto{
			Name:      fresh("embshrink_rowcount_cast"),
			OpType:    "Cast",
			Input:     []string{ids},
			Output:    []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(model.Int64)}},
		})
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: out, Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(model.Int64)}}}})
		byIDs[k] = out
		names[i] = out
	}
	pruneGraph(g, names)
	return m.Derive(mp), names
}

// pruneGraph drops the nodes, initializers and graph inputs that the named
// values do not depend on, so that a run computes only the ids and needs
// only the inputs and weights they are computed from. A node with
// subgraphs depends on every name its subgraphs read (subgraphReads).
func pruneGraph(g *onnxpb.GraphProto, outputs []string) {
	needed := map[string]bool{}
	for _, o := range outputs {
		needed[o] = true
	}
	read := func(name string) { needed[name] = true }
	keep := make([]bool, len(g.Node))
	for i := len(g.Node) - 1; i >= 0; i-- {
		n := g.Node[i]
		if !slices.ContainsFunc(n.Output, func(o string) bool { return needed[o] }) {
			continue
		}
		keep[i] = true
		for _, in := range n.Input {
			read(in)
		}
		model.SubgraphReads(n, read)
	}
	var nodes []*onnxpb.NodeProto
	for i, n := range g.Node {
		if keep[i] {
			nodes = append(nodes, n)
		}
	}
	g.Node = nodes
	g.Initializer = slices.DeleteFunc(g.Initializer, func(t *onnxpb.TensorProto) bool { return !needed[t.Name] })
	g.Input = slices.DeleteFunc(g.Input, func(vi *onnxpb.ValueInfoProto) bool { return !needed[vi.Name] })
}
