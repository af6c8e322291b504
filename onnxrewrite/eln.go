package onnxrewrite

import (
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// ONNX Runtime's com.microsoft.EmbedLayerNormalization, which its BERT
// optimizer fuses from the word, position and segment lookups, their sum
// and the LayerNormalization after it. Its inputs are input_ids,
// segment_ids (optional), word_embedding, position_embedding,
// segment_embedding (optional), gamma, beta, mask (optional) and
// position_ids (optional; without it the positions are 0..S-1 along
// input_ids' last axis). The node looks up rows of its three tables
// itself: each is found with the node as its reader and its Via.

// Input positions of EmbedLayerNormalization.
const (
	elnInputIDs    = 0
	elnSegmentIDs  = 1
	elnWord        = 2
	elnPosition    = 3
	elnSegment     = 4
	elnPositionIDs = 8
)

func isEmbedLayerNorm(n *onnxpb.NodeProto) bool {
	return n.Domain == "com.microsoft" && n.OpType == "EmbedLayerNormalization"
}

// elnIDs is where an EmbedLayerNormalization reads the ids of its table
// input j, or nil when j is no table input.
func elnIDs(gc *graphCtx, n *onnxpb.NodeProto, j int) *idsRead {
	in := func(k int) string {
		if k < len(n.Input) {
			return n.Input[k]
		}
		return ""
	}
	switch j {
	case elnWord:
		return &idsRead{value: in(elnInputIDs), gc: gc}
	case elnSegment:
		if in(elnSegmentIDs) == "" {
			return &idsRead{gc: gc, why: "it has a segment table but no segment_ids"}
		}
		return &idsRead{value: in(elnSegmentIDs), gc: gc}
	case elnPosition:
		if p := in(elnPositionIDs); p != "" {
			return &idsRead{value: p, gc: gc}
		}
		return &idsRead{positionsOf: in(elnInputIDs), gc: gc}
	}
	return nil
}

// embedLayerNorm records table d read as input j of EmbedLayerNormalization
// ref; false when j is not one of its tables.
func (sc *tableScan) embedLayerNorm(gc *graphCtx, d *tableDef, ref NodeRef, j int) bool {
	read := elnIDs(gc, ref.node, j)
	if read == nil {
		return false
	}
	r := ref
	r.read = read
	sc.gather(d, r).Via = &ref
	return true
}

// exposePositions appends to g the nodes that make the positions a site
// with Positions reads, 0..S-1 along the last axis of ids and broadcast to
// its shape, and returns their name.
func exposePositions(g *onnxpb.GraphProto, fresh func(string) string, ids string) string {
	scalar := func(v int64) string {
		t := &onnxpb.TensorProto{Name: fresh("embshrink_rowcount_const"), DataType: int32(model.Int64), RawData: int64Raw(v)}
		g.Initializer = append(g.Initializer, t)
		return t.Name
	}
	add := func(op string, in []string, attrs ...*onnxpb.AttributeProto) string {
		out := fresh("embshrink_rowcount_positions")
		g.Node = append(g.Node, &onnxpb.NodeProto{Name: fresh("embshrink_rowcount_" + op), OpType: op, Input: in, Output: []string{out}, Attribute: attrs})
		return out
	}
	shape := add("Shape", []string{ids})
	length := add("Gather", []string{shape, scalar(-1)}, intAttr("axis", 0))
	pos := add("Range", []string{scalar(0), length, scalar(1)})
	return add("Expand", []string{pos, shape})
}
