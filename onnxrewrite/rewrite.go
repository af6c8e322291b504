package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// The rewrite rules: how a table becomes codes and a codebook, in standard
// ONNX operators only, for any runtime.
//
// Storage. Codes are packed P to a byte when K allows (K <= 4: P = 4,
// K <= 16: P = 2, else P = 1 with uint8 for K <= 256 and uint16 above), so a
// row takes Q = ceil(M/P) bytes: byte j holds the codes of groups jP..jP+P-1,
// low bits first. The codebook [M*K, D] keeps the table's element type.
//
// Group book. From the codebook, nodes over initializers build a book of
// Q*256 vectors: entry j*256 + b is the sum of the P codebook rows that byte
// value b selects in byte j. A runtime computes it once, at load (ONNX
// Runtime folds it as a constant), so each token then gathers Q vectors, not
// M. With P = 1 the group book is the codebook itself.
//
//	book = Reshape(ReduceSum(Gather(codebook, Cast(nibbles) + group_rows), axis 2), [Q*256, D])
//
// Row sum. The same five operators rebuild rows from codes, per token
// (lookup) or for the whole table at load (decode):
//
//	rows = ReduceSum(Gather(book, Add(Cast(codes_of_rows, int64), byte_offsets)), axes=[-2])
//
// with byte_offsets[j] = j*256 (j*K when P = 1). 16-bit tables are summed
// in float32 and rounded once, as Decode does: ONNX Runtime has no bfloat16
// ReduceSum, and M float16 additions lose bits.
//
// Layouts. lookup replaces each embedding Gather(table, ids) with the row
// sum over Gather(codes, ids): the dense table never exists at run time.
// Bags: where the Gather's one reader is a ReduceSum or ReduceMean over id
// axes only (opset >= 16, float32 or float64 table, M*K <= 4096), lookup
// replaces both with code counts per bag times the codebook, with
// ScatterElements(reduction=add) and one MatMul (bag.go): each token then
// costs M integer adds, not Q vectors of D values written and summed.
// decode computes the row sum over all codes once, under the table's own
// name, so every reader of the table (Gathers, a tied MatMul or Gemm) works
// unchanged at the original speed after load. Readers that are not
// embedding Gathers, and initializers that are copies of the table, are
// always fed from the decoded table, so the file carries the table once.

// Layout says how a rewritten table is read at run time.
type Layout string

// Layouts; see the rules above.
const (
	LayoutAuto   Layout = "auto"
	LayoutLookup Layout = "lookup"
	LayoutDecode Layout = "decode"
)

// AutoDecodeLimit is the size of a dense table up to which LayoutAuto
// decodes it at load: below it the original's run-time memory is kept and
// its speed with it; above it the lookup saves the memory.
const AutoDecodeLimit = 256 << 20

// CodesPerByte is how many codes of K values one byte of a packed row holds;
// 1 when K > 16 (and with K > 256 a code takes two bytes).
func CodesPerByte(k int) int {
	switch {
	case k <= 4:
		return 4
	case k <= 16:
		return 2
	}
	return 1
}

// codebookDoc starts the doc string of every codebook a rewrite writes, so
// that FindTables does not take it for an embedding table.
const codebookDoc = "embshrink codebook of table"

// RewriteOptions controls RewriteTable.
type RewriteOptions struct {
	// Table is the table to rewrite; "" means the largest.
	Table string
	// Layout defaults to LayoutAuto.
	Layout Layout
	// NoPack stores one code per byte (or two bytes) even when K allows
	// packing.
	NoPack bool
	// NoBag keeps the per-token lookup for Gathers whose rows are pooled
	// (see bag.go).
	NoBag bool
}

// RewriteReport says what a rewrite did.
type RewriteReport struct {
	Table  string `json:"table"`
	Layout Layout `json:"layout"`
	// LayoutReason says why the layout was chosen.
	LayoutReason string `json:"layout_reason"`
	// Gathers counts the embedding Gathers now reading codes (lookup) or
	// the decoded table (decode).
	Gathers int `json:"gathers"`
	// Bags counts the lookup Gathers that, with the ReduceSum or ReduceMean
	// pooling them, became code counts times the codebook.
	Bags int `json:"bags"`
	// Notes say why pooled Gathers kept the per-token lookup.
	Notes []string `json:"notes,omitempty"`
	// OtherUses are readers of the table that now read the decoded table.
	OtherUses []Use `json:"other_uses"`
	// Copies are initializers that were copies of the table, now computed
	// from the decoded table.
	Copies []Copy `json:"copies"`
	// TableBytes is the bytes the table and its copies took.
	TableBytes int64 `json:"table_bytes"`
	// CodesBytes, CodebookBytes and AuxBytes (offsets, unpacking tables)
	// are what replaces them.
	CodesBytes    int64 `json:"codes_bytes"`
	CodebookBytes int64 `json:"codebook_bytes"`
	AuxBytes      int64 `json:"aux_bytes"`
	CodesPerByte  int   `json:"codes_per_byte"`
}

// Supported opsets of the default domain. From 11 Gather takes negative
// indices and ReduceSum negative axes; the rules hold unchanged to 21 and
// are checked in ONNX Runtime at 11, 13, 18 and 21.
const (
	MinOpset = 11
	MaxOpset = 21
)

// Rewrite replaces the named table (the largest when name is "") with
// codes in the lookup layout; see RewriteTable.
func Rewrite(m *model.Model, name string, c codes.Codes, b codes.Codebook) (*RewriteReport, error) {
	return RewriteTable(m, c, b, RewriteOptions{Table: name, Layout: LayoutLookup})
}

// RewriteTable replaces a table with codes and a codebook, following the
// rules at the top of this file. Ids of any rank, int32 or int64, negative
// ones included, index the codes exactly as they indexed the table.
func RewriteTable(m *model.Model, c codes.Codes, b codes.Codebook, opts RewriteOptions) (*RewriteReport, error) {
	op := m.Opset()
	if op < MinOpset || op > MaxOpset {
		return nil, fmt.Errorf("%s: default opset %d is not supported (%d to %d)", m.Path, op, MinOpset, MaxOpset)
	}
	if err := model.CheckDataflow(m); err != nil {
		return nil, err
	}
	inv, err := FindTables(m)
	if err != nil {
		return nil, err
	}
	tb, err := inv.Table(opts.Table)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := tb.Rewritable(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := codes.Check(c, b, tb.Shape[0], tb.Shape[1]); err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	layout, reason, err := chooseLayout(tb, opts.Layout)
	if err != nil {
		return nil, fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	p := CodesPerByte(c.K)
	if opts.NoPack {
		p = 1
	}
	e := &emitter{m: m, tb: tb, names: model.NewNamer(m), dt: model.DataType(tb.def.tensor.DataType), opset: op, p: p, c: c, b: b, noBag: opts.NoBag}
	rep := &RewriteReport{Table: tb.Name, Layout: layout, LayoutReason: reason, OtherUses: tb.OtherUses, Copies: tb.Copies,
		TableBytes: tb.Bytes, CodesPerByte: p}
	for _, cp := range tb.Copies {
		rep.TableBytes += cp.Bytes
	}
	e.storeCodes()
	e.storeBook()

	// The decoded table, under the table's own name, when anything but
	// lookup Gathers reads it.
	needDense := layout == LayoutDecode || len(tb.OtherUses) > 0 || len(tb.Copies) > 0
	if needDense {
		e.rowSum(e.codes.Name, tb.Name, &e.head)
		e.serveCopies()
	}
	if layout == LayoutDecode {
		rep.Gathers = len(tb.Gathers)
	} else {
		rep.Gathers, rep.Bags = e.replaceGathers()
		rep.Notes = e.notes
	}
	e.removeTable()
	if !needDense {
		e.drop(tb.def.graph.g, tb.Name)
	}
	for g, names := range e.gone {
		g.ValueInfo = without(g.ValueInfo, func(v *onnxpb.ValueInfoProto) bool { return slices.Contains(names, v.Name) })
	}
	g0 := tb.def.graph.g
	g0.Node = append(e.head, g0.Node...)
	g0.Initializer = append(g0.Initializer, e.added...)
	if m.Proto.IrVersion < 4 {
		// Before IR 4 every initializer must also be a graph input.
		for _, t := range e.added {
			g0.Input = append(g0.Input, tensorValueInfo(t.Name, model.DataType(t.DataType), t.Dims))
		}
	}
	for _, t := range e.added {
		m.AddTensor(t)
		switch t {
		case e.codes:
			rep.CodesBytes += model.StoredBytes(t)
		case e.book:
			rep.CodebookBytes += model.StoredBytes(t)
		default:
			rep.AuxBytes += model.StoredBytes(t)
		}
	}
	return rep, nil
}

func chooseLayout(tb *Table, want Layout) (Layout, string, error) {
	dense := tb.Bytes
	switch want {
	case LayoutLookup:
		return LayoutLookup, "asked for", nil
	case LayoutDecode:
		return LayoutDecode, "asked for", nil
	case LayoutAuto, "":
	default:
		return "", "", fmt.Errorf("layout %q: want lookup, decode or auto", want)
	}
	if len(tb.OtherUses) > 0 || len(tb.Copies) > 0 {
		return LayoutDecode, "the table has readers besides embedding Gathers, which need it decoded anyway", nil
	}
	if dense <= AutoDecodeLimit {
		return LayoutDecode, fmt.Sprintf("the dense table (%d bytes) fits in %d MiB: decoded once at load it runs at the original's speed", dense, AutoDecodeLimit>>20), nil
	}
	return LayoutLookup, fmt.Sprintf("the dense table (%d bytes) is over %d MiB: read from codes at run time (per token, or per bag where pooled), it never takes that memory", dense, AutoDecodeLimit>>20), nil
}

// emitter builds one table's rewrite.
type emitter struct {
	m     *model.Model
	tb    *Table
	names *model.Namer
	dt    model.DataType
	opset int64
	p     int // codes per byte
	c     codes.Codes
	b     codes.Codebook

	codes, book *onnxpb.TensorProto
	bookName    string // the group book value (or the codebook itself); "" until groupBook
	nibbleT     string // the code_nibbles initializer, once made
	nib32       string // nibbles as int32, for bags
	colOffsets  string // bag column offsets
	consts      map[string]string
	noBag       bool
	notes       []string
	gone        map[*onnxpb.GraphProto][]string // values removed, whose value_info must go
	bookF32     bool                            // the group book is float32 where the table is 16-bit
	offsets     string                          // byte offsets into the group book, [Q] int64
	axes        string                          // ReduceSum axes input [-2], from opset 13
	added       []*onnxpb.TensorProto
	head        []*onnxpb.NodeProto // nodes over initializers, at the graph's start
}

func (e *emitter) q() int { return (e.c.M + e.p - 1) / e.p }

func (e *emitter) init(base string, dt model.DataType, dims []int64, raw []byte) *onnxpb.TensorProto {
	t := &onnxpb.TensorProto{Name: e.names.Fresh(e.tb.Name + "." + base), Dims: dims, DataType: int32(dt), RawData: raw}
	e.added = append(e.added, t)
	return t
}

func (e *emitter) node(list *[]*onnxpb.NodeProto, label, op string, in []string, outBase string, attrs ...*onnxpb.AttributeProto) string {
	out := e.names.Fresh(outBase)
	*list = append(*list, &onnxpb.NodeProto{Name: e.names.Fresh(label + "/" + op), OpType: op, Input: in, Output: []string{out}, Attribute: attrs})
	return out
}

// nodeTo appends a node writing the value out, which the caller names.
func (e *emitter) nodeTo(list *[]*onnxpb.NodeProto, label, op string, in []string, out string, attrs ...*onnxpb.AttributeProto) {
	*list = append(*list, &onnxpb.NodeProto{Name: e.names.Fresh(label + "/" + op), OpType: op, Input: in, Output: []string{out}, Attribute: attrs})
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

func int64Raw(v ...int64) []byte {
	b := make([]byte, 8*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint64(b[8*i:], uint64(x))
	}
	return b
}

// storeCodes packs the codes into [Rows, Q] bytes (uint16 when K > 256).
func (e *emitter) storeCodes() {
	c, q := e.c, e.q()
	if c.K > 256 {
		raw := make([]byte, 2*len(c.Data))
		for i, v := range c.Data {
			binary.LittleEndian.PutUint16(raw[2*i:], v)
		}
		e.codes = e.init("codes", model.Uint16, []int64{int64(c.Rows), int64(c.M)}, raw)
		return
	}
	bits := 8 / e.p
	raw := make([]byte, c.Rows*q)
	for r := 0; r < c.Rows; r++ {
		for m := 0; m < c.M; m++ {
			raw[r*q+m/e.p] |= byte(c.Data[r*c.M+m]) << (bits * (m % e.p))
		}
	}
	e.codes = e.init("codes", model.Uint8, []int64{int64(c.Rows), int64(q)}, raw)
}

// storeBook stores the codebook in the table's element type.
func (e *emitter) storeBook() {
	b := e.b
	raw, _ := model.EncodeFloats(b.Data, e.dt) // dt was checked by FindTables
	e.book = e.init("codebook", e.dt, []int64{int64(b.M * b.K), int64(b.D)}, raw)
	e.book.DocString = fmt.Sprintf("%s %q: M=%d K=%d", codebookDoc, e.tb.Name, b.M, b.K)
}

// nibbles returns the [256, P] uint8 initializer whose row v holds the P
// codes that a code byte of value v packs, each kept below K so that
// unused byte values still index the right group.
func (e *emitter) nibbles() string {
	if e.nibbleT != "" {
		return e.nibbleT
	}
	bits, mask := 8/e.p, (1<<(8/e.p))-1
	nib := make([]byte, 256*e.p)
	for v := 0; v < 256; v++ {
		for p := 0; p < e.p; p++ {
			code := (v >> (bits * p)) & mask
			if code >= e.c.K {
				code = 0
			}
			nib[v*e.p+p] = byte(code)
		}
	}
	e.nibbleT = e.init("code_nibbles", model.Uint8, []int64{256, int64(e.p)}, nib).Name
	return e.nibbleT
}

// groupBook adds, once, the nodes that make the group book from the
// codebook (packed codes), and the byte offsets the row sum adds.
func (e *emitter) groupBook() {
	if e.bookName != "" {
		return
	}
	c, b, q := e.c, e.b, e.q()
	if e.opset >= 13 {
		e.axes = e.init("sum_axes", model.Int64, []int64{1}, int64Raw(-2)).Name
	}
	label := e.tb.Name + "/embshrink"
	wide := e.dt == model.Float16 || e.dt == model.BFloat16
	if e.p == 1 {
		offs := make([]int64, c.M)
		for m := range offs {
			offs[m] = int64(m * c.K)
		}
		e.offsets = e.init("code_offsets", model.Int64, []int64{int64(c.M)}, int64Raw(offs...)).Name
		e.bookName = e.book.Name
		if wide {
			e.bookName = e.node(&e.head, label, "Cast", []string{e.book.Name}, e.tb.Name+".codebook_f32", intAttr("to", int64(model.Float32)))
			e.bookF32 = true
		}
		return
	}
	// Padding groups (when P does not divide M) select zero rows appended
	// to the codebook, so every byte value is a valid index.
	pad := q*e.p - c.M
	book := e.book.Name
	if pad > 0 {
		zeros := e.init("codebook_pad", e.dt, []int64{int64(pad * c.K), int64(b.D)}, make([]byte, pad*c.K*b.D*int(model.ElemBits(e.dt)/8)))
		book = e.node(&e.head, label, "Concat", []string{e.book.Name, zeros.Name}, e.tb.Name+".codebook_padded", intAttr("axis", 0))
	}
	grp := make([]int64, q*e.p)
	for i := range grp {
		grp[i] = int64(i * c.K)
	}
	grpT := e.init("group_rows", model.Int64, []int64{int64(q), 1, int64(e.p)}, int64Raw(grp...))
	nibW := e.node(&e.head, label, "Cast", []string{e.nibbles()}, e.tb.Name+".code_nibbles_i64", intAttr("to", int64(model.Int64)))
	rows := e.node(&e.head, label, "Add", []string{nibW, grpT.Name}, e.tb.Name+".group_book_rows") // [Q, 256, P]
	vecs := e.node(&e.head, label, "Gather", []string{book, rows}, e.tb.Name+".group_book_vectors", intAttr("axis", 0))
	if wide {
		vecs = e.node(&e.head, label, "Cast", []string{vecs}, e.tb.Name+".group_book_vectors_f32", intAttr("to", int64(model.Float32)))
		e.bookF32 = true
	}
	summed := e.reduce(&e.head, label, vecs, e.tb.Name+".group_book_3d", 2)
	shape := e.init("group_book_shape", model.Int64, []int64{2}, int64Raw(int64(q*256), int64(b.D)))
	e.bookName = e.node(&e.head, label, "Reshape", []string{summed, shape.Name}, e.tb.Name+".group_book")
	offs := make([]int64, q)
	for j := range offs {
		offs[j] = int64(j * 256)
	}
	e.offsets = e.init("byte_offsets", model.Int64, []int64{int64(q)}, int64Raw(offs...)).Name
}

// reduce emits ReduceSum over one axis without keeping it, in the form the
// opset wants, writing a fresh value named after outBase.
func (e *emitter) reduce(list *[]*onnxpb.NodeProto, label, in, outBase string, axis int64) string {
	out := e.names.Fresh(outBase)
	e.reduceTo(list, label, in, out, axis)
	return out
}

func (e *emitter) reduceTo(list *[]*onnxpb.NodeProto, label, in, out string, axis int64) {
	n := &onnxpb.NodeProto{Name: e.names.Fresh(label + "/ReduceSum"), OpType: "ReduceSum", Input: []string{in}, Output: []string{out},
		Attribute: []*onnxpb.AttributeProto{intAttr("keepdims", 0)}}
	if e.opset >= 13 {
		axesIn := e.axes
		if axis != -2 {
			axesIn = e.init("axes"+strconv.FormatInt(axis, 10), model.Int64, []int64{1}, int64Raw(axis)).Name
		}
		n.Input = append(n.Input, axesIn)
	} else {
		n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: "axes", Type: onnxpb.AttributeProto_INTS, Ints: []int64{axis}})
	}
	*list = append(*list, n)
}

// rowSum appends the nodes that turn code bytes [..., Q] into rows
// [..., D] of the table's type, writing the value out.
func (e *emitter) rowSum(codes, out string, list *[]*onnxpb.NodeProto) {
	e.groupBook()
	label := out + "/embshrink"
	wide := e.node(list, label, "Cast", []string{codes}, out+".code_ids", intAttr("to", int64(model.Int64)))
	idx := e.node(list, label, "Add", []string{wide, e.offsets}, out+".book_ids")
	vecs := e.node(list, label, "Gather", []string{e.bookName, idx}, out+".code_vectors", intAttr("axis", 0))
	if e.dt == model.Float16 || e.dt == model.BFloat16 {
		if !e.bookF32 {
			vecs = e.node(list, label, "Cast", []string{vecs}, out+".code_vectors_f32", intAttr("to", int64(model.Float32)))
		}
		sum := e.reduce(list, label, vecs, out+".sum_f32", -2)
		*list = append(*list, &onnxpb.NodeProto{Name: e.names.Fresh(label + "/narrow"), OpType: "Cast", Input: []string{sum},
			Output: []string{out}, Attribute: []*onnxpb.AttributeProto{intAttr("to", int64(e.dt))}})
		return
	}
	e.reduceTo(list, label, vecs, out, -2)
}

// replaceGathers swaps each embedding Gather of the table for a lookup of
// codes, in place, or for a bag with the reducer that pools it, and returns
// how many Gathers it replaced and how many of them became bags.
func (e *emitter) replaceGathers() (gathers, bags int) {
	def := e.tb.def
	walkGraphs(e.m, func(gc *graphCtx) {
		mine := func(node *onnxpb.NodeProto) bool {
			d, ok := gc.resolve(firstInput(node))
			return ok && d != nil && d.tensor == def.tensor && isEmbeddingGather(node, 0)
		}
		plans := map[*onnxpb.NodeProto]*bagPlan{}             // by reducer
		gatherOf := map[*onnxpb.NodeProto]*onnxpb.NodeProto{} // by reducer
		bagged := map[*onnxpb.NodeProto]bool{}
		for _, node := range gc.g.Node {
			if !mine(node) {
				continue
			}
			plan, note := e.planBag(gc, node)
			if note != "" {
				e.notes = append(e.notes, note)
			}
			if plan != nil {
				plans[plan.reduce], gatherOf[plan.reduce] = plan, node
				bagged[node] = true
			}
		}
		var out []*onnxpb.NodeProto
		for _, node := range gc.g.Node {
			label := node.Name
			if label == "" && len(node.Output) > 0 {
				label = node.Output[0]
			}
			if plan := plans[node]; plan != nil {
				g := gatherOf[node]
				label = g.Name
				if label == "" {
					label = g.Output[0]
				}
				e.emitBag(&out, label+"/embshrink/bag", g.Input[1], plan)
				gathers++
				bags++
				continue
			}
			if bagged[node] {
				e.drop(gc.g, node.Output[0])
				continue // emitted in its reducer's place
			}
			if !mine(node) {
				out = append(out, node)
				continue
			}
			gathered := e.names.Fresh(node.Output[0] + ".codes")
			out = append(out, &onnxpb.NodeProto{Name: e.names.Fresh(label + "/embshrink/codes"), OpType: "Gather", DocString: node.DocString,
				Input: []string{e.codes.Name, node.Input[1]}, Output: []string{gathered}, Attribute: []*onnxpb.AttributeProto{intAttr("axis", 0)}})
			e.rowSum(gathered, node.Output[0], &out)
			gathers++
		}
		gc.g.Node = out
	})
	return gathers, bags
}

// drop records that value name no longer exists in graph g.
func (e *emitter) drop(g *onnxpb.GraphProto, name string) {
	if e.gone == nil {
		e.gone = map[*onnxpb.GraphProto][]string{}
	}
	e.gone[g] = append(e.gone[g], name)
}

// serveCopies replaces each copy of the table with the decoded table,
// transposed where the copy was.
func (e *emitter) serveCopies() {
	g := e.tb.def.graph.g
	for _, cp := range e.tb.Copies {
		node := &onnxpb.NodeProto{Name: e.names.Fresh(cp.Name + "/embshrink/copy"), OpType: "Identity", Input: []string{e.tb.Name}, Output: []string{cp.Name}}
		if cp.Transposed {
			node.OpType = "Transpose"
			node.Attribute = []*onnxpb.AttributeProto{{Name: "perm", Type: onnxpb.AttributeProto_INTS, Ints: []int64{1, 0}}}
		}
		e.head = append(e.head, node)
		g.Initializer = without(g.Initializer, func(t *onnxpb.TensorProto) bool { return t.Name == cp.Name })
		g.Input = without(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.Name == cp.Name })
	}
}

// removeTable deletes the table's initializer (or Constant node), and its
// graph input entry, from the graph that defines it. The decoded table, if
// any, now carries its name.
func (e *emitter) removeTable() {
	def, g := e.tb.def, e.tb.def.graph.g
	if def.constant != nil {
		g.Node = without(g.Node, func(n *onnxpb.NodeProto) bool { return n == def.constant })
	} else {
		g.Initializer = without(g.Initializer, func(t *onnxpb.TensorProto) bool { return t == def.tensor })
	}
	g.Input = without(g.Input, func(v *onnxpb.ValueInfoProto) bool { return v.Name == e.tb.Name })
}

func firstInput(n *onnxpb.NodeProto) string {
	if len(n.Input) == 0 {
		return ""
	}
	return n.Input[0]
}

// tensorValueInfo declares a tensor of fixed shape.
func tensorValueInfo(name string, dt model.DataType, dims []int64) *onnxpb.ValueInfoProto {
	shape := &onnxpb.TensorShapeProto{}
	for _, d := range dims {
		shape.Dim = append(shape.Dim, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: d}})
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
		TensorType: &onnxpb.TypeProto_Tensor{ElemType: int32(dt), Shape: shape}}}}
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

// SetTableValues replaces a table's values (given as float32, stored in the
// table's element type), and those of its copies (transposed where they
// are). Tests use it to build the dense reference a rewrite must match.
func SetTableValues(m *model.Model, name string, v []float32) error {
	inv, err := FindTables(m)
	if err != nil {
		return err
	}
	tb, err := inv.Table(name)
	if err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	if err := tb.Rewritable(); err != nil {
		return fmt.Errorf("%s: %w", m.Path, err)
	}
	rows, cols := int(tb.Shape[0]), int(tb.Shape[1])
	if len(v) != rows*cols {
		return fmt.Errorf("%s: table %q is %v, got %d values", m.Path, tb.Name, tb.Shape, len(v))
	}
	if err := m.SetFloat32s(tb.def.tensor, v); err != nil {
		return fmt.Errorf("%s: table %q: %w", m.Path, tb.Name, err)
	}
	for _, cp := range tb.Copies {
		vals := v
		if cp.Transposed {
			vals = make([]float32, len(v))
			for r := 0; r < rows; r++ {
				for c := 0; c < cols; c++ {
					vals[c*rows+r] = v[r*cols+c]
				}
			}
		}
		for _, t := range tb.def.graph.g.Initializer {
			if t.Name == cp.Name {
				if err := m.SetFloat32s(t, vals); err != nil {
					return fmt.Errorf("%s: copy %q: %w", m.Path, cp.Name, err)
				}
			}
		}
	}
	return nil
}
