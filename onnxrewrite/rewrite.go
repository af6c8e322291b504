package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Codes are a table's compositional codes: row r is rebuilt as
// sum over m of Codebook row m*K + Data[r*M+m].
type Codes struct {
	Rows, M, K int
	Data       []uint16 // row-major [Rows, M], each value in [0, K)
}

// Codebook holds M groups of K vectors of length D, row-major [M*K, D].
type Codebook struct {
	M, K, D int
	Data    []float32
}

// Validate checks codes and codebook against each other and a [rows, dim]
// table.
func Validate(c Codes, b Codebook, rows, dim int64) error {
	if c.M < 1 || c.K < 2 || c.K > 65536 {
		return fmt.Errorf("codes: M=%d, K=%d: need M >= 1 and 2 <= K <= 65536", c.M, c.K)
	}
	if int64(c.Rows) != rows {
		return fmt.Errorf("codes have %d rows, the table has %d", c.Rows, rows)
	}
	if len(c.Data) != c.Rows*c.M {
		return fmt.Errorf("codes: %d values for shape [%d, %d]", len(c.Data), c.Rows, c.M)
	}
	for i, v := range c.Data {
		if int(v) >= c.K {
			return fmt.Errorf("codes: row %d group %d holds %d, outside [0, %d)", i/c.M, i%c.M, v, c.K)
		}
	}
	if b.M != c.M || b.K != c.K {
		return fmt.Errorf("codebook is %d groups of %d, codes are %d groups of %d", b.M, b.K, c.M, c.K)
	}
	if int64(b.D) != dim {
		return fmt.Errorf("codebook rows have %d values, table rows have %d", b.D, dim)
	}
	if len(b.Data) != b.M*b.K*b.D {
		return fmt.Errorf("codebook: %d values for shape [%d, %d]", len(b.Data), b.M*b.K, b.D)
	}
	for i, v := range b.Data {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Errorf("codebook: row %d column %d is %v", i/b.D, i%b.D, v)
		}
	}
	return nil
}

// Decode rebuilds the dense [Rows, D] table that codes and codebook stand
// for, summing the groups in order m = 0..M-1 in float32.
func Decode(c Codes, b Codebook) []float32 {
	out := make([]float32, c.Rows*b.D)
	for r := 0; r < c.Rows; r++ {
		row := out[r*b.D : (r+1)*b.D]
		for m := 0; m < c.M; m++ {
			src := b.Data[(m*b.K+int(c.Data[r*c.M+m]))*b.D:]
			for j := range row {
				row[j] += src[j]
			}
		}
	}
	return out
}

// codebookDoc starts the doc string of every codebook a rewrite writes, so
// that FindTables does not take it for an embedding table.
const codebookDoc = "embshrink codebook of table"

// RewriteReport says what Rewrite did.
type RewriteReport struct {
	Table   string `json:"table"`
	Gathers int    `json:"gathers"`
	// TableBytes is the table's size before the rewrite.
	TableBytes int64 `json:"table_bytes"`
	// CodesBytes, CodebookBytes and OffsetsBytes are what replaces it.
	CodesBytes    int64 `json:"codes_bytes"`
	CodebookBytes int64 `json:"codebook_bytes"`
	OffsetsBytes  int64 `json:"offsets_bytes"`
	// Removed says the table itself is gone; it stays when other uses
	// (OtherUses) still read it.
	Removed   bool  `json:"removed"`
	OtherUses []Use `json:"other_uses"`
}

// Opset returns the model's version of the default ONNX operator set.
func (m *Model) Opset() int64 {
	for _, o := range m.Proto.OpsetImport {
		if o.Domain == "" || o.Domain == "ai.onnx" {
			return o.Version
		}
	}
	return 0
}

// Supported opsets of the default domain. From 11 Gather takes negative
// indices and ReduceSum negative axes; the rules hold unchanged to 21 and
// are checked in ONNX Runtime at 11, 13, 18 and 21.
const (
	MinOpset = 11
	MaxOpset = 21
)

// Rewrite replaces every embedding Gather of the named table (the largest
// when name is "") with a lookup of codes, built from standard operators:
//
//	codes_g = Gather(codes, ids)              [..., M] uint8/uint16
//	idx     = Add(Cast(codes_g, int64), offs) [..., M] offs[m] = m*K
//	vecs    = Gather(codebook, idx)           [..., M, D]
//	out     = ReduceSum(vecs, axes=[-2], keepdims=0)
//
// Ids of any rank, int32 or int64, negative ones included, index the codes
// exactly as they indexed the table. The codes are stored in the smallest
// unsigned type that holds K, the codebook in the table's element type. The
// table is removed when nothing else reads it.
func Rewrite(m *Model, name string, c Codes, b Codebook) (*RewriteReport, error) {
	op := m.Opset()
	if op < MinOpset || op > MaxOpset {
		return nil, fmt.Errorf("%s: default opset %d is not supported (%d to %d)", m.Path, op, MinOpset, MaxOpset)
	}
	inv, err := FindTables(m)
	if err != nil {
		return nil, err
	}
	tb, err := inv.Table(name)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := Validate(c, b, tb.Shape[0], tb.Shape[1]); err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	def := tb.def
	dt := DataType(def.tensor.DataType)
	names := newNamer(m)

	// New initializers live in the graph that defines the table, so every
	// Gather that could see the table sees them too.
	codesT := &onnxpb.TensorProto{Name: names.fresh(tb.Name + ".codes"), Dims: []int64{int64(c.Rows), int64(c.M)}}
	if c.K <= 256 {
		codesT.DataType = int32(Uint8)
		codesT.RawData = make([]byte, len(c.Data))
		for i, v := range c.Data {
			codesT.RawData[i] = byte(v)
		}
	} else {
		codesT.DataType = int32(Uint16)
		codesT.RawData = make([]byte, 2*len(c.Data))
		for i, v := range c.Data {
			binary.LittleEndian.PutUint16(codesT.RawData[2*i:], v)
		}
	}
	bookRaw, err := encodeFloats(b.Data, dt)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	bookT := &onnxpb.TensorProto{Name: names.fresh(tb.Name + ".codebook"), Dims: []int64{int64(b.M * b.K), int64(b.D)},
		DataType: int32(dt), RawData: bookRaw, DocString: fmt.Sprintf("%s %q: M=%d K=%d", codebookDoc, tb.Name, b.M, b.K)}
	offs := make([]byte, 8*c.M)
	for i := 0; i < c.M; i++ {
		binary.LittleEndian.PutUint64(offs[8*i:], uint64(i*c.K))
	}
	offT := &onnxpb.TensorProto{Name: names.fresh(tb.Name + ".code_offsets"), Dims: []int64{int64(c.M)}, DataType: int32(Int64), RawData: offs}
	added := []*onnxpb.TensorProto{codesT, bookT, offT}
	var axesT *onnxpb.TensorProto
	if op >= 13 {
		axesT = &onnxpb.TensorProto{Name: names.fresh(tb.Name + ".sum_axes"), Dims: []int64{1}, DataType: int32(Int64),
			RawData: binary.LittleEndian.AppendUint64(nil, uint64(math.MaxUint64-1))} // -2
		added = append(added, axesT)
	}
	g0 := def.graph.g
	g0.Initializer = append(g0.Initializer, added...)
	if m.Proto.IrVersion < 4 {
		// Before IR 4 every initializer must also be a graph input.
		for _, t := range added {
			g0.Input = append(g0.Input, tensorValueInfo(t.Name, DataType(t.DataType), t.Dims))
		}
	}
	for _, t := range added {
		m.added[t] = true
	}

	rep := &RewriteReport{Table: tb.Name, TableBytes: tb.Bytes, CodesBytes: storedBytes(codesT),
		CodebookBytes: storedBytes(bookT), OffsetsBytes: storedBytes(offT) + storedBytes(axesT), OtherUses: tb.OtherUses}
	walkGraphs(m, func(gc *graphCtx) {
		var out []*onnxpb.NodeProto
		for i, n := range gc.g.Node {
			if d, ok := gc.resolve(firstInput(n)); !ok || d == nil || d.tensor != def.tensor || !isEmbeddingGather(n, 0) {
				out = append(out, n)
				continue
			}
			out = append(out, lookupNodes(names, n, nodeLabel(n, i), codesT.Name, offT.Name, bookT.Name, axesT, dt)...)
			rep.Gathers++
		}
		gc.g.Node = out
	})
	if !tableUsed(m, def) {
		removeTable(def, tb.Name)
		rep.Removed = true
	}
	return rep, nil
}

func firstInput(n *onnxpb.NodeProto) string {
	if len(n.Input) == 0 {
		return ""
	}
	return n.Input[0]
}

// lookupNodes is the subgraph that replaces one Gather. A 16-bit codebook's
// vectors are summed in float32 and rounded once, as Decode does: ONNX
// Runtime has no bfloat16 ReduceSum, and M float16 additions lose bits.
func lookupNodes(names *namer, g *onnxpb.NodeProto, label, codes, offsets, book string, axes *onnxpb.TensorProto, dt DataType) []*onnxpb.NodeProto {
	base := label
	if g.Name == "" {
		base = "embshrink" + label
	}
	ids, out := g.Input[1], g.Output[0]
	gathered := names.fresh(out + ".codes")
	wide := names.fresh(out + ".code_ids")
	idx := names.fresh(out + ".codebook_ids")
	vecs := names.fresh(out + ".code_vectors")
	intAttr := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
	}
	var widen, narrow *onnxpb.NodeProto
	sumIn, sumOut := vecs, out
	if dt == Float16 || dt == BFloat16 {
		sumIn, sumOut = names.fresh(out+".code_vectors_f32"), names.fresh(out+".sum_f32")
		widen = &onnxpb.NodeProto{Name: names.fresh(base + "/widen"), OpType: "Cast", Input: []string{vecs}, Output: []string{sumIn},
			Attribute: []*onnxpb.AttributeProto{intAttr("to", int64(Float32))}}
		narrow = &onnxpb.NodeProto{Name: names.fresh(base + "/narrow"), OpType: "Cast", Input: []string{sumOut}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{intAttr("to", int64(dt))}}
	}
	sum := &onnxpb.NodeProto{Name: names.fresh(base + "/sum"), OpType: "ReduceSum", Input: []string{sumIn}, Output: []string{sumOut},
		Attribute: []*onnxpb.AttributeProto{intAttr("keepdims", 0)}}
	if axes != nil {
		sum.Input = append(sum.Input, axes.Name)
	} else {
		sum.Attribute = append(sum.Attribute, &onnxpb.AttributeProto{Name: "axes", Type: onnxpb.AttributeProto_INTS, Ints: []int64{-2}})
	}
	nodes := []*onnxpb.NodeProto{
		{Name: names.fresh(base + "/codes"), OpType: "Gather", Input: []string{codes, ids}, Output: []string{gathered},
			Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}, DocString: g.DocString},
		{Name: names.fresh(base + "/cast"), OpType: "Cast", Input: []string{gathered}, Output: []string{wide},
			Attribute: []*onnxpb.AttributeProto{intAttr("to", int64(Int64))}},
		{Name: names.fresh(base + "/offsets"), OpType: "Add", Input: []string{wide, offsets}, Output: []string{idx}},
		{Name: names.fresh(base + "/codebook"), OpType: "Gather", Input: []string{book, idx}, Output: []string{vecs},
			Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}},
	}
	if widen != nil {
		return append(nodes, widen, sum, narrow)
	}
	return append(nodes, sum)
}

// tensorValueInfo declares a tensor of fixed shape.
func tensorValueInfo(name string, dt DataType, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(dt), Shape: shape}}}}
}

// tableUsed says whether any node input or graph output still reads def.
func tableUsed(m *Model, def *tableDef) bool {
	name := def.tensor.Name
	if def.constant != nil {
		name = def.constant.Output[0]
	}
	used := false
	walkGraphs(m, func(gc *graphCtx) {
		reads := func(s string) bool {
			if s != name {
				return false
			}
			d, ok := gc.resolve(s)
			return ok && d != nil && d.tensor == def.tensor
		}
		for _, n := range gc.g.Node {
			for _, in := range n.Input {
				used = used || reads(in)
			}
		}
		for _, o := range gc.g.Output {
			used = used || reads(o.Name)
		}
	})
	return used
}

// removeTable deletes the table's initializer (or Constant node), and its
// graph input and value_info entries, from the graph that defines it.
func removeTable(def *tableDef, name string) {
	g := def.graph.g
	if def.constant != nil {
		g.Node = without(g.Node, func(n *onnxpb.NodeProto) bool { return n == def.constant })
	} else {
		g.Initializer = without(g.Initializer, func(t *onnxpb.TensorProto) bool { return t == def.tensor })
	}
	g.Input = without(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.Name == name })
	g.ValueInfo = without(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool { return v.Name == name })
}

func without[T any](s []T, drop func(T) bool) []T {
	out := s[:0]
	for _, v := range s {
		if !drop(v) {
			out = append(out, v)
		}
	}
	return out
}

// namer hands out names that no graph of the model uses yet.
type namer struct{ used map[string]bool }

func newNamer(m *Model) *namer {
	used := map[string]bool{}
	walkGraphs(m, func(gc *graphCtx) {
		g := gc.g
		for _, t := range g.Initializer {
			used[t.Name] = true
		}
		for _, vs := range [][]*onnxpb.ValueInfoProto{g.Input, g.Output, g.ValueInfo} {
			for _, v := range vs {
				used[v.Name] = true
			}
		}
		for _, n := range g.Node {
			used[n.Name] = true
			for _, s := range n.Input {
				used[s] = true
			}
			for _, s := range n.Output {
				used[s] = true
			}
		}
	})
	return &namer{used: used}
}

func (nm *namer) fresh(base string) string {
	name := base
	for i := 1; nm.used[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	nm.used[name] = true
	return name
}

// SetTableValues replaces a table's values (given as float32, stored in the
// table's element type). Tests use it to build the dense reference a rewrite
// must match.
func (m *Model) SetTableValues(name string, v []float32) error {
	inv, err := FindTables(m)
	if err != nil {
		return err
	}
	tb, err := inv.Table(name)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	if int64(len(v)) != tb.Shape[0]*tb.Shape[1] {
		return fmt.Errorf("%s: table %q is %v, got %d values", m.Path, tb.Name, tb.Shape, len(v))
	}
	t := tb.def.tensor
	raw, err := encodeFloats(v, DataType(t.DataType))
	if err != nil {
		return fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	external := isExternal(t)
	delete(m.ext, t)
	setExternal(t, "", 0, 0)
	t.ExternalData, t.DataLocation, t.RawData = nil, onnxpb.TensorProto_DEFAULT, raw
	if external {
		m.added[t] = true
	}
	return nil
}
