package onnxrewrite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Table is an embedding table: a rank-2 float initializer (or Constant) that
// is the data input of at least one Gather along axis 0; or a quantized
// one, an integer tensor whose lookup dequantizes it (see QuantInfo and
// quant.go). For a quantized table Shape is the dequantized table's, DType
// the stored integers' and Bytes those of the integers, scales and zero
// points together.
type Table struct {
	Name  string   `json:"name"`
	Shape [2]int64 `json:"shape"`
	DType string   `json:"dtype"`
	Bytes int64    `json:"bytes"`
	// Share is Bytes over the bytes of all the model's weights.
	Share float64 `json:"share"`
	// Source is "initializer" or "constant" (the output of a Constant node).
	Source string `json:"source"`
	// Graph is the graph that defines the table: "main", or a subgraph path
	// such as "main/If_0.then_branch".
	Graph string `json:"graph"`
	// External says the table's bytes live in an external data file.
	External bool `json:"external"`
	// GraphInput says the table is also a graph input, so a caller could
	// feed other values for it.
	GraphInput bool `json:"graph_input,omitempty"`
	// Gathers are the Gather nodes that read the table as embeddings.
	Gathers []NodeRef `json:"gathers"`
	// OtherUses are every other node input the table feeds, such as a tied
	// output projection.
	OtherUses []Use `json:"other_uses"`
	// Copies are initializers holding the same values (or their
	// transpose); a rewrite serves them from the same codes.
	Copies []Copy `json:"copies"`
	// Quantized says how a quantized table is dequantized; nil for a float
	// table. A rewrite takes the supported forms (see Rewritable).
	Quantized *QuantInfo `json:"quantized,omitempty"`
	// Via is the Identity or Cast (to a float type) between the table and
	// its Gathers, when they read it through one; nil when they read the
	// table itself. Such a table is rewritten in the decode layout, which
	// keeps that node reading the table's name.
	Via *NodeRef `json:"via,omitempty"`
	// Computed says the table holds values computed from the row index,
	// not learned (RotaryCos, RotarySin; see rotary.go); "" for a table
	// of learned rows. compress leaves such a table out unless named.
	Computed string `json:"computed,omitempty"`
	// UnreadAttrs are tensor attributes of the Via function call, of the
	// table's shape and type, that the function never reads: torch 1.13
	// copies the module's weight there. A rewrite drops them.
	UnreadAttrs []string `json:"unread_attrs,omitempty"`

	def *tableDef
}

// ErrNotFound is returned (wrapped) when a named table does not exist.
var ErrNotFound = errors.New("not found")

// ErrQuantized is wrapped by the error of a rewrite asked to take a
// quantized table in a form it does not support.
var ErrQuantized = errors.New("this form of quantized table is not supported")

// Rewritable returns nil when RewriteTable can take the table, else why
// not (wrapping ErrQuantized), naming the table.
func (tb *Table) Rewritable() error {
	if q := tb.Quantized; q != nil && q.Unsupported != "" {
		return fmt.Errorf("table %q is %s, quantized (%s %q): %s: %w; compress the float model before quantizing",
			tb.Name, tb.DType, q.Op, q.Node.Node, q.Unsupported, ErrQuantized)
	}
	return nil
}

// NodeRef names a node: its graph, name (or "#index" when unnamed) and type.
type NodeRef struct {
	Graph  string `json:"graph"`
	Node   string `json:"node"`
	OpType string `json:"op_type"`

	// node and gc are the node itself and its graph: code finds a node
	// again by these, never by its label, which a model may also spell.
	node *onnxpb.NodeProto
	gc   *graphCtx
	// read, when set, says where the node's ids come from when they are
	// not its input 1 in gc (see readers.go).
	read *idsRead
}

// Use is a node input that reads a table, other than an embedding Gather.
type Use struct {
	NodeRef
	Input int `json:"input"`
	// Kind is "tied_projection" for a MatMul or Gemm that reads the table
	// (directly or through a Transpose), else "other".
	Kind string `json:"kind"`
	// Detail says how, e.g. "Gemm input 1, transB=1" or
	// "Transpose -> MatMul lm_head input 1".
	Detail string `json:"detail"`
}

// Inventory is what FindTables reports.
type Inventory struct {
	Tables []Table `json:"tables"`
	// TotalBytes is the bytes of all the model's weights (initializers and
	// constants, inside subgraphs too).
	TotalBytes int64 `json:"total_bytes"`
	// TableBytes is the bytes of all the tables together.
	TableBytes int64 `json:"table_bytes"`
}

// tableDef is where a table is defined.
type tableDef struct {
	tensor   *onnxpb.TensorProto
	graph    *graphCtx
	constant *onnxpb.NodeProto // the Constant node, when Source is "constant"
}

// graphCtx is a graph with its place in the model.
type graphCtx struct {
	g      *onnxpb.GraphProto
	path   string
	parent *graphCtx
	// defs are the names this graph defines: initializers and Constant
	// outputs map to their tensor; computed values and inputs map to nil.
	defs map[string]*tableDef
}

// walkGraphs visits the main graph and every subgraph (If, Loop, Scan
// bodies, at any depth) in a fixed order, parents before children.
func walkGraphs(m *model.Model, fn func(gc *graphCtx)) {
	var visit func(gc *graphCtx)
	visit = func(gc *graphCtx) {
		gc.defs = localDefs(gc)
		fn(gc)
		for i, n := range gc.g.Node {
			for _, a := range n.Attribute {
				sub := model.AttrGraphs(a)
				for j, g := range sub {
					p := gc.path + "/" + model.NodeLabel(n, i) + "." + a.Name
					if len(sub) > 1 {
						p += "[" + strconv.Itoa(j) + "]"
					}
					visit(&graphCtx{g: g, path: p, parent: gc})
				}
			}
		}
	}
	visit(&graphCtx{g: m.Proto.Graph, path: "main"})
}

func localDefs(gc *graphCtx) map[string]*tableDef {
	defs := map[string]*tableDef{}
	for _, in := range gc.g.Input {
		defs[in.Name] = nil
	}
	for _, t := range gc.g.Initializer {
		defs[t.Name] = &tableDef{tensor: t, graph: gc}
	}
	for _, n := range gc.g.Node {
		for _, o := range n.Output {
			defs[o] = nil
		}
		if model.IsStd(n) && n.OpType == "Constant" && len(n.Output) == 1 {
			for _, a := range n.Attribute {
				if a.Name == "value" && a.T != nil {
					defs[n.Output[0]] = &tableDef{tensor: a.T, graph: gc, constant: n}
				}
			}
		}
	}
	return defs
}

// resolve finds what a name refers to in gc, looking outwards.
func (gc *graphCtx) resolve(name string) (*tableDef, bool) {
	for g := gc; g != nil; g = g.parent {
		if d, ok := g.defs[name]; ok {
			return d, true
		}
	}
	return nil, false
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	for _, a := range n.Attribute {
		if a.Name == name {
			return a.I
		}
	}
	return def
}

func isFloatType(dt model.DataType) bool {
	switch dt {
	case model.Float32, model.Float16, model.BFloat16, model.Float64:
		return true
	}
	return false
}

// isEmbeddingGather says whether input i of n reads a rank-2 tensor as an
// embedding lookup.
func isEmbeddingGather(n *onnxpb.NodeProto, i int) bool {
	if !model.IsStd(n) || n.OpType != "Gather" || i != 0 || len(n.Input) < 2 {
		return false
	}
	axis := attrInt(n, "axis", 0)
	return axis == 0 || axis == -2
}

// FindTables lists the model's embedding tables, largest first, with their
// copies compared in full (streamed in bounded blocks): what a rewrite,
// which serves the copies from the codes, needs.
func FindTables(m *model.Model) (*Inventory, error) {
	return findTables(m, false)
}

// ListTables is FindTables for a listing: a copy is confirmed on sampled
// rows of its table (Copy.SampledRows, see copySampleRows) instead of in
// full, so that it answers in about a second whatever the tables' size. A
// candidate that differs in rows the sample does not read is still listed;
// never rewrite from its result.
func ListTables(m *model.Model) (*Inventory, error) {
	return findTables(m, true)
}

func findTables(m *model.Model, sampledCopies bool) (*Inventory, error) {
	inv := &Inventory{}
	m.EachTensor(func(t *onnxpb.TensorProto) { inv.TotalBytes += model.StoredBytes(t) })
	sc := &tableScan{m: m, byTensor: map[*onnxpb.TensorProto]*Table{}}
	walkGraphs(m, sc.graph)
	for _, p := range sc.others {
		if tb, ok := sc.byTensor[p.def.tensor]; ok {
			tb.OtherUses = append(tb.OtherUses, p.use)
		}
	}
	quant, params, err := quantTables(m, sc.sites)
	if err != nil {
		return nil, err
	}
	for _, t := range sc.order {
		tb := sc.byTensor[t]
		if params[t] || gatheredBeside(tb, sc.byTensor, quant) {
			continue // a scale or zero point, not a table
		}
		if inv.TotalBytes > 0 {
			tb.Share = float64(tb.Bytes) / float64(inv.TotalBytes)
		}
		if tb.OtherUses == nil {
			tb.OtherUses = []Use{}
		}
		copies, err := findCopies(m, tb.def, sampledCopies)
		if err != nil {
			return nil, err
		}
		tb.Copies = append([]Copy{}, copies...)
		if tb.Computed, err = rotaryCache(m, tb); err != nil {
			return nil, err
		}
		inv.TableBytes += tb.Bytes
		inv.Tables = append(inv.Tables, *tb)
	}
	for _, tb := range quant {
		tb.Share = float64(tb.Bytes) / float64(max(inv.TotalBytes, 1))
		inv.TableBytes += tb.Bytes
		inv.Tables = append(inv.Tables, *tb)
	}
	sort.SliceStable(inv.Tables, func(a, b int) bool {
		if inv.Tables[a].Bytes != inv.Tables[b].Bytes {
			return inv.Tables[a].Bytes > inv.Tables[b].Bytes
		}
		return inv.Tables[a].Name < inv.Tables[b].Name
	})
	if inv.Tables == nil {
		inv.Tables = []Table{}
	}
	return inv, nil
}

// tableScan is what FindTables gathers graph by graph: float tables in the
// order first seen, their other uses, and the quantized forms' matches.
type tableScan struct {
	m        *model.Model
	byTensor map[*onnxpb.TensorProto]*Table
	order    []*onnxpb.TensorProto
	others   []pendingUse
	sites    []*qsite
}

type pendingUse struct {
	def *tableDef
	use Use
}

// graph scans one graph's nodes for the rank-2 float tensors they read.
func (sc *tableScan) graph(gc *graphCtx) {
	consumers := map[string][]int{}
	for i, n := range gc.g.Node {
		for _, in := range n.Input {
			consumers[in] = append(consumers[in], i)
		}
	}
	sc.sites = append(sc.sites, matchQuant(sc.m, gc, consumers)...)
	for i, n := range gc.g.Node {
		for j, in := range n.Input {
			if in == "" {
				continue
			}
			d, ok := gc.resolve(in)
			if !ok || d == nil || len(d.tensor.Dims) != 2 || strings.HasPrefix(d.tensor.DocString, codebookDoc) {
				continue
			}
			if !isFloatType(model.DataType(d.tensor.DataType)) {
				continue // quantized tables are found by matchQuant
			}
			ref := NodeRef{Graph: gc.path, Node: model.NodeLabel(n, i), OpType: n.OpType, node: n, gc: gc}
			if isEmbeddingGather(n, j) {
				sc.gather(d, ref)
			} else if !sc.through(gc, consumers, d, ref) && !sc.readBy(gc, d, ref, j) {
				sc.others = append(sc.others, pendingUse{d, describeUse(gc, consumers, ref, n, j)})
			}
		}
	}
}

// gather records Gather ref as an embedding lookup of table d.
func (sc *tableScan) gather(d *tableDef, ref NodeRef) *Table {
	tb, ok := sc.byTensor[d.tensor]
	if !ok {
		tb = newTable(sc.m, d)
		sc.byTensor[d.tensor] = tb
		sc.order = append(sc.order, d.tensor)
	}
	tb.Gathers = append(tb.Gathers, ref)
	return tb
}

// through handles a table read by an Identity, or a Cast to a float type,
// whose output embedding Gathers read: what tf2onnx and torch's
// de-duplication write (Identity), and fp16 converters that keep the
// Gather in float32 (Cast). Those Gathers are the table's, and the node is
// where they read it (Table.Via); the output's other readers are the
// table's other uses. It returns false, recording nothing, when no Gather
// reads the output.
func (sc *tableScan) through(gc *graphCtx, consumers map[string][]int, d *tableDef, ref NodeRef) bool {
	n := ref.node
	if !model.IsStd(n) || len(n.Output) != 1 || (n.OpType != "Identity" && n.OpType != "Cast") {
		return false
	}
	if n.OpType == "Cast" && !isFloatType(model.DataType(attrInt(n, "to", 0))) {
		return false
	}
	var gathers, others []NodeRef
	var inputs []int
	for _, c := range consumers[n.Output[0]] {
		cn := gc.g.Node[c]
		for k, in := range cn.Input {
			if in != n.Output[0] {
				continue
			}
			r := NodeRef{Graph: gc.path, Node: model.NodeLabel(cn, c), OpType: cn.OpType, node: cn, gc: gc}
			if isEmbeddingGather(cn, k) {
				gathers = append(gathers, r)
			} else {
				others, inputs = append(others, r), append(inputs, k)
			}
		}
	}
	if len(gathers) == 0 {
		return false
	}
	for _, r := range gathers {
		sc.gather(d, r).Via = &ref
	}
	for i, r := range others {
		u := describeUse(gc, consumers, r, r.node, inputs[i])
		u.Detail = fmt.Sprintf("%s %s -> %s", n.OpType, ref.Node, u.Detail)
		sc.others = append(sc.others, pendingUse{d, u})
	}
	return true
}

func newTable(m *model.Model, d *tableDef) *Table {
	t := d.tensor
	tb := &Table{
		Name:     t.Name,
		Shape:    [2]int64{t.Dims[0], t.Dims[1]},
		DType:    model.DTypeName(model.DataType(t.DataType)),
		Bytes:    model.StoredBytes(t),
		Source:   "initializer",
		Graph:    d.graph.path,
		External: model.IsExternal(t),
		def:      d,
	}
	if d.constant != nil {
		tb.Source = "constant"
		tb.Name = d.constant.Output[0]
	}
	for _, in := range d.graph.g.Input {
		if in.Name == tb.Name {
			tb.GraphInput = true
		}
	}
	return tb
}

// describeUse classifies a non-Gather use of a table.
func describeUse(gc *graphCtx, consumers map[string][]int, ref NodeRef, n *onnxpb.NodeProto, input int) Use {
	u := Use{NodeRef: ref, Input: input, Kind: "other", Detail: fmt.Sprintf("%s input %d", n.OpType, input)}
	if !model.IsStd(n) {
		return u
	}
	switch n.OpType {
	case "MatMul":
		u.Kind = "tied_projection"
	case "Gemm":
		u.Kind = "tied_projection"
		if input == 1 {
			u.Detail += fmt.Sprintf(", transB=%d", attrInt(n, "transB", 0))
		} else if input == 0 {
			u.Detail += fmt.Sprintf(", transA=%d", attrInt(n, "transA", 0))
		}
	case "Transpose":
		if len(n.Output) == 1 {
			for _, c := range consumers[n.Output[0]] {
				cn := gc.g.Node[c]
				if model.IsStd(cn) && (cn.OpType == "MatMul" || cn.OpType == "Gemm") {
					for k, in := range cn.Input {
						if in == n.Output[0] {
							u.Kind = "tied_projection"
							u.Detail = fmt.Sprintf("Transpose -> %s %s input %d", cn.OpType, model.NodeLabel(cn, c), k)
						}
					}
				}
			}
		}
	}
	return u
}

// findTable finds m's tables and returns the named one, as Inventory.Table
// does, its error naming the file.
func findTable(m *model.Model, name string) (*Table, error) {
	inv, err := FindTables(m)
	if err != nil {
		return nil, err
	}
	tb, err := inv.Table(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	return tb, nil
}

// Table returns the named table, or when name is "" the largest that a
// rewrite can take (never a quantized one).
func (inv *Inventory) Table(name string) (*Table, error) {
	if len(inv.Tables) == 0 {
		return nil, fmt.Errorf("no embedding table (a rank-2 float initializer read by a Gather along axis 0): %w", ErrNotFound)
	}
	if name == "" {
		for i := range inv.Tables {
			if inv.Tables[i].Rewritable() == nil {
				return &inv.Tables[i], nil
			}
		}
		return nil, fmt.Errorf("no embedding table a rewrite can take (%v): %w", inv.Tables[0].Rewritable(), ErrNotFound)
	}
	for i := range inv.Tables {
		if inv.Tables[i].Name == name {
			return &inv.Tables[i], nil
		}
	}
	names := make([]string, len(inv.Tables))
	for i, t := range inv.Tables {
		names[i] = t.Name
	}
	return nil, fmt.Errorf("table %q: %w; the model's tables are %q", name, ErrNotFound, names)
}

// ReadTable reads a table's values as float32, widening 16-bit and
// narrowing float64 ones, and dequantizing a quantized table (as its
// chain computes it, in its float type); tb must come from FindTables of
// the same model. A float64 table whose values lie beyond float32's range
// (1e300, or 1e-300) is read divided by a power of two that brings it into
// range, the Matrix's Exp (codes.Float32Exp): narrowed as it is, it would
// be infinities or zeros.
func ReadTable(m *model.Model, tb *Table) (*model.Matrix, error) {
	if err := tb.Rewritable(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	var v []float32
	var exp int
	var err error
	t := tb.def.tensor
	switch {
	case tb.Quantized != nil:
		v, err = tb.Quantized.sites[0].lay.dequantize(m)
	case model.DataType(t.DataType) == model.Float64:
		v, exp, err = readFloat64Table(m, t)
	default:
		v, err = m.Float32Values(t)
	}
	if err != nil {
		return nil, err
	}
	return &model.Matrix{Rows: int(tb.Shape[0]), Cols: int(tb.Shape[1]), Data: v, Exp: exp}, nil
}

// readFloat64Table reads a float64 tensor as float32 values times 2^exp;
// exp is 0, and the values those Float32Values gives, when they fit.
func readFloat64Table(m *model.Model, t *onnxpb.TensorProto) ([]float32, int, error) {
	b, err := m.TensorBytes(t) // as many bytes as the shape needs
	if err != nil {
		return nil, 0, err
	}
	v, exp := codes.ScaledFloat32s(len(b)/8, func(i int) float64 {
		return math.Float64frombits(binary.LittleEndian.Uint64(b[8*i:]))
	})
	return v, exp, nil
}
