package onnxrewrite

import (
	"fmt"
	"slices"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// normOps are normalizations as single operators, with the input that
// carries the rows (the Skip forms add a residual to input 0 first).
var normOps = map[string]string{
	"LayerNormalization":               "LayerNorm",
	"SimplifiedLayerNormalization":     "RMSNorm",
	"RMSNormalization":                 "RMSNorm",
	"SkipLayerNormalization":           "LayerNorm",
	"SkipSimplifiedLayerNormalization": "RMSNorm",
}

// RelativeReason says why errors in the table's rows matter relative to
// each row's norm, or "" when nothing does:
//
//   - the rows are read through a normalization (RMSNorm, LayerNorm or
//     SimplifiedLayerNormalization, as an operator or as its decomposition
//     Pow/Mul -> ReduceMean or ReduceMean -> Sub), possibly after Adds of
//     position or type embeddings, Casts or constant scalings: the norm
//     divides each row, and its error, by the row's length;
//   - the table is tied: a MatMul or Gemm reads it (or a copy of it) as an
//     output projection, whose logits compare the hidden state with every
//     row's direction.
//
// Every embedding Gather must reach a normalization for the first reason.
func RelativeReason(m *model.Model, tb *Table) string {
	var why []string
	norm := FindNorm(m, tb)
	if q := tb.Quantized; q != nil && q.Unsupported == "" && !slices.ContainsFunc(q.sites, func(s *qsite) bool { return s.gc.parent != nil }) {
		// The rows are floats only past the dequantizing chain: follow
		// them from the lowered copy's Gathers.
		if mm, ft, err := loweredCopy(m, tb); err == nil {
			norm = FindNorm(mm, ft)
		}
	}
	if norm != "" {
		why = append(why, "rows are read through "+norm)
	}
	if tied := tiedReason(m, tb); tied != "" {
		why = append(why, tied)
	}
	return strings.Join(why, "; ")
}

// FindNorm describes the normalization every embedding Gather of the
// table feeds (the first one found), or "" when some Gather feeds none.
func FindNorm(m *model.Model, tb *Table) string {
	if tb.Graph != "main" || len(tb.Gathers) == 0 {
		return ""
	}
	// A Gather inside a subgraph (both branches of a merged decoder's If)
	// is followed in its own graph.
	consumersOf := map[*onnxpb.GraphProto]map[string][]*onnxpb.NodeProto{}
	var found string
	for _, ref := range tb.Gathers {
		if ref.node == nil || ref.gc == nil {
			return ""
		}
		g := ref.gc.g
		if consumersOf[g] == nil {
			consumersOf[g] = map[string][]*onnxpb.NodeProto{}
			for _, n := range g.Node {
				for _, in := range n.Input {
					consumersOf[g][in] = append(consumersOf[g][in], n)
				}
			}
		}
		why := findNorm(g, consumersOf[g], ref.node.Output[0])
		if why == "" {
			return ""
		}
		if found == "" {
			found = why
		}
	}
	return found
}

// tiedReason says how the table is read as an output projection, or "".
func tiedReason(m *model.Model, tb *Table) string {
	for _, u := range tb.OtherUses {
		if u.Kind == "tied_projection" {
			return fmt.Sprintf("the table is tied: %s %s reads it as an output projection", u.OpType, u.Node)
		}
	}
	copies := map[string]bool{}
	for _, c := range tb.Copies {
		copies[c.Name] = true
	}
	why := ""
	walkGraphs(m, func(gc *graphCtx) { // the projection may be in an If branch
		for i, n := range gc.g.Node {
			if why != "" || (n.OpType != "MatMul" && n.OpType != "Gemm") {
				continue
			}
			for _, in := range n.Input {
				if copies[in] {
					why = fmt.Sprintf("the table is tied: %s %s reads its copy %s as an output projection", n.OpType, model.NodeLabel(n, i), in)
					break
				}
			}
		}
	})
	return why
}

// findNorm follows value through operators that keep rows as rows (Add,
// Sub, Identity, Cast, Dropout, Mul or Div by another value) for a few
// steps, and describes the first normalization that reads it.
func findNorm(g *onnxpb.GraphProto, consumers map[string][]*onnxpb.NodeProto, value string) string {
	front := []string{value}
	seen := map[string]bool{value: true}
	for depth := 0; depth < 4 && len(front) > 0; depth++ {
		var next []string
		for _, v := range front {
			if why := normReading(g, consumers, v); why != "" {
				return why
			}
			for _, n := range consumers[v] {
				if !model.IsStd(n) || len(n.Output) != 1 || seen[n.Output[0]] {
					continue
				}
				switch n.OpType {
				case "Add", "Sub", "Identity", "Cast", "Dropout", "Mul", "Div":
					if n.Input[0] == n.Input[len(n.Input)-1] {
						continue // x*x or x+x: not a row passed on
					}
					seen[n.Output[0]] = true
					next = append(next, n.Output[0])
				}
			}
		}
		front = next
	}
	return ""
}

// normReading describes a normalization that reads v directly, or "".
func normReading(g *onnxpb.GraphProto, consumers map[string][]*onnxpb.NodeProto, v string) string {
	for _, n := range consumers[v] {
		if kind, ok := normOps[n.OpType]; ok && len(n.Input) > 0 && (n.Input[0] == v || len(n.Input) > 1 && n.Input[1] == v && n.OpType[:4] == "Skip") {
			return fmt.Sprintf("%s (%s %s)", kind, n.OpType, nodeLabelOf(g, n))
		}
		switch {
		case n.OpType == "Pow" && len(n.Input) == 2 && n.Input[0] == v,
			n.OpType == "Mul" && len(n.Input) == 2 && n.Input[0] == v && n.Input[1] == v:
			// x^2 -> mean over the last axis: an RMSNorm's mean square.
			if r := readBy(consumers, n.Output[0], "ReduceMean"); r != nil {
				return fmt.Sprintf("RMSNorm (decomposed: %s %s -> ReduceMean %s)", n.OpType, nodeLabelOf(g, n), nodeLabelOf(g, r))
			}
		case n.OpType == "ReduceMean" && len(n.Input) >= 1 && n.Input[0] == v:
			// x - mean(x): a LayerNorm's centring.
			for _, s := range consumers[n.Output[0]] {
				if s.OpType == "Sub" && len(s.Input) == 2 && s.Input[0] == v {
					return fmt.Sprintf("LayerNorm (decomposed: ReduceMean %s -> Sub %s)", nodeLabelOf(g, n), nodeLabelOf(g, s))
				}
			}
		}
	}
	return ""
}

// readBy returns a reader of value with the op type, or nil.
func readBy(consumers map[string][]*onnxpb.NodeProto, value, op string) *onnxpb.NodeProto {
	for _, n := range consumers[value] {
		if n.OpType == op {
			return n
		}
	}
	return nil
}
