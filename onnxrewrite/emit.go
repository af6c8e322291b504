package onnxrewrite

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// emitter builds one table's rewrite.
type emitter struct {
	m     *model.Model
	tb    *Table
	names *model.Namer
	dt    model.DataType
	// bookDT is the codebook's stored type; when it is not dt, the
	// codebook is cast once, at load, before anything reads it (bookSrc).
	bookDT model.DataType
	opset  int64
	p      int // codes per byte
	c      codes.Codes
	b      codes.Codebook

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
	axes        string                          // ReduceSum axes input [-2], from opset 13; see sumAxes
	src         string                          // the codebook as the group book reads it; see bookSrc
	srcDT       model.DataType                  // its type
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

// storeBook stores the codebook in its element type (bookDT). A codebook
// with an Exp (of a float64 table beyond float32's range) holds values only
// float64 holds: it is stored as Data times 2^Exp, in float64 only.
func (e *emitter) storeBook() error {
	b := e.b
	var raw []byte
	if b.Exp == 0 {
		raw, _ = model.EncodeFloats(b.Data, e.bookDT) // both types were checked
	} else {
		if e.bookDT != model.Float64 {
			return fmt.Errorf("the codebook's values reach 2^%d, beyond %s's range: it can only be stored as float64, the table's type",
				b.Exp, model.DTypeName(e.bookDT))
		}
		raw = make([]byte, 8*len(b.Data))
		for i, x := range b.Data {
			v := math.Ldexp(float64(x), b.Exp)
			if math.IsInf(v, 0) {
				return fmt.Errorf("codebook row %d column %d, %g x 2^%d, is beyond float64's range", i/b.D, i%b.D, x, b.Exp)
			}
			binary.LittleEndian.PutUint64(raw[8*i:], math.Float64bits(v))
		}
	}
	e.book = e.init("codebook", e.bookDT, []int64{int64(b.M * b.K), int64(b.D)}, raw)
	e.book.DocString = fmt.Sprintf("%s %q: M=%d K=%d", codebookDoc, e.tb.Name, b.M, b.K)
	return nil
}

// bookSrc returns the codebook the group book and bags read, and its type:
// the stored codebook when it has the table's type; else a Cast of it, made
// once over the initializer (so folded at load): to the table's type for a
// float32 or float64 table, to float32 for a 16-bit one, which is summed in
// float32 anyway.
func (e *emitter) bookSrc() (string, model.DataType) {
	if e.src != "" {
		return e.src, e.srcDT
	}
	e.src, e.srcDT = e.book.Name, e.bookDT
	if e.bookDT != e.dt {
		e.srcDT = e.dt
		if is16(e.dt) {
			e.srcDT = model.Float32
		}
		if e.srcDT != e.bookDT {
			e.src = e.node(&e.head, e.tb.Name+"/embshrink", "Cast", []string{e.book.Name}, e.tb.Name+".codebook_"+model.DTypeName(e.srcDT),
				intAttr("to", int64(e.srcDT)))
		}
	}
	return e.src, e.srcDT
}

func is16(dt model.DataType) bool { return dt == model.Float16 || dt == model.BFloat16 }

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
		e.sumAxes() // made first, so that initializers keep their order
	}
	label := e.tb.Name + "/embshrink"
	src, srcDT := e.bookSrc()
	wide := is16(srcDT) // cast to float32 after the gather
	e.bookF32 = is16(e.dt) && !wide
	if e.p == 1 {
		offs := make([]int64, c.M)
		for m := range offs {
			offs[m] = int64(m * c.K)
		}
		e.offsets = e.init("code_offsets", model.Int64, []int64{int64(c.M)}, int64Raw(offs...)).Name
		e.bookName = src
		if wide {
			e.bookName = e.node(&e.head, label, "Cast", []string{src}, e.tb.Name+".codebook_f32", intAttr("to", int64(model.Float32)))
			e.bookF32 = true
		}
		return
	}
	// Padding groups (when P does not divide M) select zero rows appended
	// to the codebook, so every byte value is a valid index.
	pad := q*e.p - c.M
	book := src
	if pad > 0 {
		zeros := e.init("codebook_pad", srcDT, []int64{int64(pad * c.K), int64(b.D)}, make([]byte, pad*c.K*b.D*int(model.ElemBits(srcDT)/8)))
		book = e.node(&e.head, label, "Concat", []string{src, zeros.Name}, e.tb.Name+".codebook_padded", intAttr("axis", 0))
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

// sumAxes is the ReduceSum axes input [-2] (opset 13 on), made on first use.
func (e *emitter) sumAxes() string {
	if e.axes == "" {
		e.axes = e.init("sum_axes", model.Int64, []int64{1}, int64Raw(-2)).Name
	}
	return e.axes
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
		axesIn := e.sumAxes()
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
