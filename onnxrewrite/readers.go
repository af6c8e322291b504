package onnxrewrite

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Tables read by nodes other than a Gather of the graph that defines them:
// a call of a model-local function whose body Gathers the table (torch's
// export_modules_as_functions), and fused operators that look rows up
// themselves (eln.go). Such a table is found with the node that reads it
// by name as Table.Via and rewritten in the decode layout only, which
// keeps that node reading the table's name.

// idsRead is where a table reader's ids come from when they are not the
// reader's input 1 in its own graph.
type idsRead struct {
	// value is the ids, a value of gc; "" when positionsOf or why is set.
	value string
	gc    *graphCtx
	// positionsOf says the reader reads rows 0..S-1, S the length of the
	// last axis of this value of gc (position ids a fused op makes).
	positionsOf string
	// why says why the ids are no value of any graph.
	why string
}

// indices is the value holding the ids ref reads and the graph it is a
// value of; "" when it reads no such value (ref.read says why).
func (r NodeRef) indices() (string, *graphCtx) {
	if r.read != nil {
		return r.read.value, r.read.gc
	}
	if r.node == nil || len(r.node.Input) < 2 {
		return "", r.gc
	}
	return r.node.Input[1], r.gc
}

// readBy handles table d read as input j of node ref, a reader other than
// a Gather: it records the table and returns true when the reader looks
// rows up, else returns false, recording nothing.
func (sc *tableScan) readBy(gc *graphCtx, d *tableDef, ref NodeRef, j int) bool {
	if f := localFunction(sc.m, ref.node); f != nil {
		return sc.call(gc, d, ref, j, f)
	}
	if isEmbedLayerNorm(ref.node) {
		return sc.embedLayerNorm(gc, d, ref, j)
	}
	return false
}

// localFunction is the model-local function n calls, or nil.
func localFunction(m *model.Model, n *onnxpb.NodeProto) *onnxpb.FunctionProto {
	if model.IsStd(n) {
		return nil
	}
	for _, f := range m.Proto.Functions {
		if f.Domain == n.Domain && f.Name == n.OpType && f.Overload == n.Overload {
			return f
		}
	}
	return nil
}

// call handles table d passed as argument j to a call of function f: the
// embedding Gathers of the formal input in f's body are the table's (their
// ids the call's argument for the formal input they read), and the call is
// where they read it (Via). The body's other readers of it are the table's
// other uses. It returns false, recording nothing, when no Gather in the
// body reads the table.
func (sc *tableScan) call(gc *graphCtx, d *tableDef, ref NodeRef, j int, f *onnxpb.FunctionProto) bool {
	if j >= len(f.Input) {
		return false
	}
	formal := f.Input[j]
	body := &graphCtx{g: &onnxpb.GraphProto{Name: f.Name, Node: f.Node},
		path: fmt.Sprintf("%s/%s(function %s.%s)", gc.path, ref.Node, f.Domain, f.Name)}
	var gathers []NodeRef
	var others []Use
	for i, n := range f.Node {
		for k, in := range n.Input {
			if in != formal {
				continue
			}
			r := NodeRef{Graph: body.path, Node: model.NodeLabel(n, i), OpType: n.OpType, node: n, gc: body}
			if !isEmbeddingGather(n, k) {
				others = append(others, Use{NodeRef: ref, Input: j, Kind: "other",
					Detail: fmt.Sprintf("function %s.%s input %d, read by %s %s in its body", f.Domain, f.Name, j, n.OpType, r.Node)})
				continue
			}
			r.read = callIDs(gc, ref.node, f, n.Input[1])
			gathers = append(gathers, r)
		}
	}
	if len(gathers) == 0 {
		return false
	}
	unread := unreadAttrs(ref.node, f, d.tensor)
	for _, r := range gathers {
		tb := sc.gather(d, r)
		tb.Via, tb.UnreadAttrs = &ref, unread
	}
	for _, u := range others {
		sc.others = append(sc.others, pendingUse{d, u})
	}
	return true
}

// callIDs is where a Gather in f's body, called by call in gc, reads its
// ids from: the call's argument for the formal input ids names.
func callIDs(gc *graphCtx, call *onnxpb.NodeProto, f *onnxpb.FunctionProto, ids string) *idsRead {
	for k, in := range f.Input {
		if in == ids && k < len(call.Input) && call.Input[k] != "" {
			return &idsRead{value: call.Input[k], gc: gc}
		}
	}
	return &idsRead{gc: gc, why: fmt.Sprintf("its ids %q are computed inside function %s.%s", ids, f.Domain, f.Name)}
}

// unreadAttrs are the tensor attributes of call, of t's shape and type,
// that no node of f's body (at any depth) refers to.
func unreadAttrs(call *onnxpb.NodeProto, f *onnxpb.FunctionProto, t *onnxpb.TensorProto) []string {
	read := map[string]bool{}
	var walk func(nodes []*onnxpb.NodeProto)
	walk = func(nodes []*onnxpb.NodeProto) {
		for _, n := range nodes {
			for _, a := range n.Attribute {
				read[a.RefAttrName] = true
				for _, g := range model.AttrGraphs(a) {
					walk(g.Node)
				}
			}
		}
	}
	walk(f.Node)
	var out []string
	for _, a := range call.Attribute {
		if a.T != nil && !read[a.Name] && a.T.DataType == t.DataType && slices.Equal(a.T.Dims, t.Dims) {
			out = append(out, a.Name)
		}
	}
	return out
}

// dropUnreadAttrs removes the table's UnreadAttrs from its Via call and
// says so; it returns their bytes.
func dropUnreadAttrs(tb *Table) (int64, []string) {
	if len(tb.UnreadAttrs) == 0 || tb.Via == nil || tb.Via.node == nil {
		return 0, nil
	}
	var bytes int64
	var notes []string
	n := tb.Via.node
	n.Attribute = slices.DeleteFunc(n.Attribute, func(a *onnxpb.AttributeProto) bool {
		if a.T == nil || !slices.Contains(tb.UnreadAttrs, a.Name) {
			return false
		}
		bytes += model.StoredBytes(a.T)
		notes = append(notes, fmt.Sprintf("dropped attribute %q of %s %s: a tensor of the table's shape that its function never reads (%d bytes)",
			a.Name, tb.Via.OpType, tb.Via.Node, model.StoredBytes(a.T)))
		return true
	})
	return bytes, notes
}
