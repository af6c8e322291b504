package onnxrewrite

// This file answers which rows of a table a model really reads on given
// inputs (RowCounts), and reads calibration inputs from .npy files
// (LoadCalibration).

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"google.golang.org/protobuf/proto"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// gatherSite is one embedding Gather of a table, with the main-graph value
// that holds its ids.
type gatherSite struct {
	table string
	rows  int64
	ref   NodeRef
	// ids is the name of the Gather's indices in the main graph; "" when
	// they are computed inside a subgraph (err says so).
	ids string
	err error
}

// gatherSites lists the embedding Gathers of the named tables (every table
// when names is empty). A Gather inside a subgraph is usable when its ids
// are a value of the main graph (computed there or a graph input); for the
// others err says why not.
func gatherSites(m *Model, inv *Inventory, names []string) ([]gatherSite, error) {
	graphs := map[string]*graphCtx{}
	walkGraphs(m, func(gc *graphCtx) { graphs[gc.path] = gc })
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
	var sites []gatherSite
	for _, tb := range tables {
		for _, ref := range tb.Gathers {
			s := gatherSite{table: tb.Name, rows: tb.Shape[0], ref: ref}
			gc := graphs[ref.Graph]
			var node *onnxpb.NodeProto
			if gc != nil {
				for i, n := range gc.g.Node {
					if nodeLabel(n, i) == ref.Node {
						node = n
						break
					}
				}
			}
			if node == nil || len(node.Input) < 2 {
				return nil, fmt.Errorf("%s: table %q: Gather %s in graph %s not found", m.Path, tb.Name, ref.Node, ref.Graph)
			}
			ids := node.Input[1]
			owner := gc
			for ; owner != nil; owner = owner.parent {
				if _, ok := owner.defs[ids]; ok {
					break
				}
			}
			switch {
			case owner == nil:
				s.err = fmt.Errorf("%s: table %q: Gather %s in graph %s reads ids %q, which no graph defines", m.Path, tb.Name, ref.Node, ref.Graph, ids)
			case owner.parent != nil:
				s.err = fmt.Errorf("%s: table %q: Gather %s in graph %s reads ids %q computed inside subgraph %s; only ids that are values of the main graph can be counted", m.Path, tb.Name, ref.Node, ref.Graph, ids, owner.path)
			default:
				s.ids = ids
			}
			sites = append(sites, s)
		}
	}
	return sites, nil
}

// RowCounts runs the model on calibration inputs and counts, per table, how
// often each row is read by its embedding Gathers. Tables names the tables
// to count (every table when empty); the result maps each to a slice of
// one count per row.
//
// The counts are what the model computes: a temporary copy of the model has
// each Gather's indices, cast to int64, as its only outputs, and runs in ONNX
// Runtime, so ids that pass through offsets, Reshapes or Casts are counted
// after them. A negative id counts for row id+V, as Gather reads it. Every
// Gather counts on its own: two Gathers of the same ids count them twice.
//
// A Gather inside a subgraph (an If branch, a Loop body) is counted when its
// ids are a value of the main graph, once per run of the main graph: as if
// the branch were taken, and the body run once. A Gather whose ids are
// computed inside the subgraph cannot be counted and is an error naming it.
//
// Inputs must hold every model input the ids depend on; others are ignored
// when the model does not need them for the ids.
func RowCounts(rt *Runtime, m *Model, tables []string, inputs map[string]HostTensor) (map[string][]int64, error) {
	inv, err := FindTables(m)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 && len(inv.Tables) == 0 {
		return nil, fmt.Errorf("%s: no embedding table: %w", m.Path, ErrNotFound)
	}
	sites, err := gatherSites(m, inv, tables)
	if err != nil {
		return nil, err
	}
	for _, s := range sites {
		if s.err != nil {
			return nil, s.err
		}
	}
	declared := map[string]bool{}
	for _, in := range modelInputs(m) {
		declared[in.Name] = true
	}
	for name := range inputs {
		if !declared[name] {
			return nil, fmt.Errorf("%s: the model has no input %q", m.Path, name)
		}
	}

	dir, err := os.MkdirTemp("", "embshrink-rowcounts-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// Only the ids are computed, so only what they depend on is written:
	// not the tables, which for a large model would be a copy of its data.
	pruned, outs := exposeIDs(m, sites)
	path := filepath.Join(dir, "model.onnx")
	if err := pruned.Save(path, SaveOptions{}); err != nil {
		return nil, fmt.Errorf("%s: temporary model for counting rows: %w", m.Path, err)
	}

	sess, err := rt.NewSession(path, SessionOptions{})
	if err != nil {
		return nil, fmt.Errorf("%s: counting rows: %w", m.Path, err)
	}
	defer sess.Close()
	feed := map[string]HostTensor{}
	for _, in := range sess.Inputs() {
		t, ok := inputs[in.Name]
		if !ok {
			return nil, fmt.Errorf("%s: counting rows needs input %q, which the calibration inputs lack", m.Path, in.Name)
		}
		feed[in.Name] = t
	}
	res, err := sess.Run(feed)
	if err != nil {
		return nil, fmt.Errorf("%s: counting rows: %w", m.Path, err)
	}

	counts := map[string][]int64{}
	for _, tb := range inv.Tables {
		if len(tables) == 0 || slices.Contains(tables, tb.Name) {
			counts[tb.Name] = make([]int64, tb.Shape[0])
		}
	}
	for i, s := range sites {
		t, ok := res[outs[i]]
		if !ok {
			return nil, fmt.Errorf("%s: counting rows: no ids came back for Gather %s", m.Path, s.ref.Node)
		}
		ids, ok := t.Data.([]int64)
		if !ok {
			return nil, fmt.Errorf("%s: counting rows: ids of Gather %s came back as %T", m.Path, s.ref.Node, t.Data)
		}
		c := counts[s.table]
		for _, id := range ids {
			r := id
			if r < 0 {
				r += s.rows
			}
			if r < 0 || r >= s.rows {
				return nil, fmt.Errorf("%s: table %q: Gather %s reads id %d, outside [-%d, %d)", m.Path, s.table, s.ref.Node, id, s.rows, s.rows)
			}
			c[r]++
		}
	}
	return counts, nil
}

// exposeIDs returns a model that computes only the ids of the sites, as
// int64 outputs (one per distinct ids value, named in site order), from a
// copy of m's graph pruned to what they depend on. It shares m's
// initializer tensors (and their external data) without copying them, and
// leaves m as it was.
func exposeIDs(m *Model, sites []gatherSite) (*Model, []string) {
	g0 := m.Proto.Graph
	inits := g0.Initializer
	g0.Initializer = nil
	mp := proto.Clone(m.Proto).(*onnxpb.ModelProto)
	g0.Initializer = inits
	g := mp.Graph
	g.Initializer = slices.Clone(inits)
	g.ValueInfo = nil

	fresh := newNamer(m).fresh
	g.Output = nil
	byIDs := map[string]string{}
	names := make([]string, len(sites))
	for i, s := range sites {
		if out, ok := byIDs[s.ids]; ok {
			names[i] = out
			continue
		}
		out := fresh("embshrink_rowcount_ids")
		g.Node = append(g.Node, &onnxpb.NodeProto{
			Name:      fresh("embshrink_rowcount_cast"),
			OpType:    "Cast",
			Input:     []string{s.ids},
			Output:    []string{out},
			Attribute: []*onnxpb.AttributeProto{{Name: "to", Type: onnxpb.AttributeProto_INT, I: int64(Int64)}},
		})
		g.Output = append(g.Output, &onnxpb.ValueInfoProto{Name: out, Type: &onnxpb.TypeProto{
			Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(Int64)}}}})
		byIDs[s.ids] = out
		names[i] = out
	}
	pruneGraph(g, names)
	return &Model{Proto: mp, Path: m.Path, dir: m.dir, ext: m.ext}, names
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
		subgraphReads(n, read)
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

// modelInput is a graph input as the model file declares it.
type modelInput struct {
	Name string
	Elem DataType
	// Shape is nil when the rank is unknown; a dynamic dimension is -1.
	Shape     []int64
	DimParams []string
}

// modelInputs lists the main graph's inputs that are not initializers.
func modelInputs(m *Model) []modelInput {
	inits := map[string]bool{}
	for _, t := range m.Proto.GetGraph().GetInitializer() {
		inits[t.Name] = true
	}
	var out []modelInput
	for _, vi := range m.Proto.GetGraph().GetInput() {
		if inits[vi.Name] {
			continue
		}
		tt := vi.GetType().GetTensorType()
		in := modelInput{Name: vi.Name, Elem: DataType(tt.GetElemType())}
		if tt.GetShape() != nil {
			in.Shape = []int64{}
			in.DimParams = []string{}
			for _, d := range tt.GetShape().GetDim() {
				v := int64(-1)
				if d.GetValue() != nil {
					if _, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
						v = d.GetDimValue()
					}
				}
				in.Shape = append(in.Shape, v)
				in.DimParams = append(in.DimParams, d.GetDimParam())
			}
		}
		out = append(out, in)
	}
	return out
}

func isIntegerType(dt DataType) bool {
	switch dt {
	case Int64, Int32, onnxpb.TensorProto_INT16, onnxpb.TensorProto_INT8,
		Uint8, Uint16, onnxpb.TensorProto_UINT32, onnxpb.TensorProto_UINT64:
		return true
	}
	return false
}

// LoadCalibration reads calibration inputs for the model from .npy files.
// A spec is NAME=FILE.npy, or just FILE.npy when the model has exactly one
// integer input. The file may hold any integer dtype; its values are
// converted to the input's element type (int64, int32, uint8 or uint16),
// and an out-of-range value is an error.
//
// The file's rank must be the input's declared rank, and its sizes must
// match the input's static dimensions: a [batch, seq] input takes a
// [rows, seq] file as it is. The one reshape is for a rank-1 input, which
// takes a file of any rank flattened in C order. Anything else is an error
// naming the file and the input.
func LoadCalibration(m *Model, specs []string) (map[string]HostTensor, error) {
	ins := modelInputs(m)
	byName := map[string]modelInput{}
	var ints []string
	var names []string
	for _, in := range ins {
		byName[in.Name] = in
		names = append(names, in.Name)
		if isIntegerType(in.Elem) {
			ints = append(ints, in.Name)
		}
	}
	out := map[string]HostTensor{}
	for _, spec := range specs {
		name, file := "", spec
		if i := strings.Index(spec, "="); i >= 0 {
			if _, ok := byName[spec[:i]]; ok {
				name, file = spec[:i], spec[i+1:]
			} else if _, err := os.Stat(spec); err != nil {
				return nil, fmt.Errorf("%s: calibration %q: the model has no input %q; its inputs are %q", m.Path, spec, spec[:i], names)
			}
		}
		if name == "" {
			if len(ints) != 1 {
				return nil, fmt.Errorf("%s: calibration %q: the model has %d integer inputs %q; say which one as NAME=FILE.npy", m.Path, spec, len(ints), ints)
			}
			name = ints[0]
		}
		if _, dup := out[name]; dup {
			return nil, fmt.Errorf("%s: calibration input %q is given twice", m.Path, name)
		}
		t, err := readCalibration(file, byName[name])
		if err != nil {
			return nil, err
		}
		out[name] = t
	}
	return out, nil
}

// readCalibration reads one .npy file for the input in.
func readCalibration(file string, in modelInput) (HostTensor, error) {
	a, err := npy.ReadFile(file)
	if err != nil {
		return HostTensor{}, err
	}
	if len(a.DType) < 2 || (a.DType[1] != 'i' && a.DType[1] != 'u') {
		return HostTensor{}, fmt.Errorf("%s: dtype %q: calibration ids for input %q must be integers", file, a.DType, in.Name)
	}
	vals, err := a.Int64s()
	if err != nil {
		return HostTensor{}, fmt.Errorf("%s: %w", file, err)
	}
	if len(vals) == 0 {
		return HostTensor{}, fmt.Errorf("%s: shape %v holds no ids", file, a.Shape)
	}
	shape := make([]int64, len(a.Shape))
	for i, d := range a.Shape {
		shape[i] = int64(d)
	}
	switch {
	case in.Shape == nil:
		// Rank unknown: take the file as it is.
	case len(in.Shape) == 1:
		shape = []int64{int64(len(vals))}
	case len(in.Shape) != len(shape):
		return HostTensor{}, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: the ranks differ", file, a.Shape, in.Name, dimsString(in.Shape, in.DimParams))
	default:
		for i, d := range in.Shape {
			if d >= 0 && d != shape[i] {
				return HostTensor{}, fmt.Errorf("%s: shape %v does not fit input %q of shape %s: dimension %d is %d, want %d", file, a.Shape, in.Name, dimsString(in.Shape, in.DimParams), i, shape[i], d)
			}
		}
	}
	t := HostTensor{Shape: shape, Elem: in.Elem}
	bad := func(lo, hi int64) error {
		for i, v := range vals {
			if v < lo || v > hi {
				return fmt.Errorf("%s: element %d is %d, outside input %q's type %s", file, i, v, in.Name, DTypeName(in.Elem))
			}
		}
		return nil
	}
	switch in.Elem {
	case Int64:
		t.Data = vals
	case Int32:
		if err := bad(math.MinInt32, math.MaxInt32); err != nil {
			return HostTensor{}, err
		}
		t.Data = convertInts[int32](vals)
	case Uint8:
		if err := bad(0, math.MaxUint8); err != nil {
			return HostTensor{}, err
		}
		t.Data = convertInts[uint8](vals)
	case Uint16:
		if err := bad(0, math.MaxUint16); err != nil {
			return HostTensor{}, err
		}
		t.Data = convertInts[uint16](vals)
	default:
		return HostTensor{}, fmt.Errorf("%s: input %q is %s; calibration files feed int64, int32, uint8 or uint16 inputs", file, in.Name, DTypeName(in.Elem))
	}
	return t, nil
}

// dimsString prints a declared shape with dimension names for dynamic
// dimensions: [batch, 20].
func dimsString(shape []int64, params []string) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		switch {
		case d >= 0:
			parts[i] = fmt.Sprint(d)
		case i < len(params) && params[i] != "":
			parts[i] = params[i]
		default:
			parts[i] = "?"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
