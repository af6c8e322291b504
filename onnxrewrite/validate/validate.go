package validate

// This file runs two models (an original and its rewrite) on the same
// inputs in ONNX ort.Runtime and compares their outputs (CompareModels).

import (
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strings"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// Defaults of CompareOptions.
const (
	DefaultSamples      = 64
	DefaultDynamicDim   = 16
	DefaultRTol         = 1e-3
	DefaultATol         = 1e-4
	DefaultMinAgreement = 0.99
	DefaultMinCosine    = 0.99
)

// CompareOptions control CompareModels. The zero value uses the defaults.
type CompareOptions struct {
	// Inputs are given input values by name; the other inputs are
	// generated.
	Inputs map[string]ort.HostTensor
	// Samples is the first (batch) dimension of generated inputs when it
	// is dynamic and unnamed, or named but not set by Dims or a given
	// input; default DefaultSamples. With given inputs, their first
	// dimension is used instead.
	Samples int
	// Dims sets dynamic dimensions by their dim_param name, such as
	// "seq_len": 20. Other dynamic dimensions take the value a given input
	// has for the same name, else Samples for the first dimension and
	// DefaultDynamicDim for the rest. CompareReport.Dims says which.
	Dims map[string]int64
	// Seed makes the generated inputs; the same seed gives the same inputs.
	Seed uint64
	// RTol and ATol are the numeric tolerance: an output is within it when
	// max|a-b| <= ATol + RTol*max|b| over its elements, b the original's
	// and a the rewrite's. Zero means the default (DefaultRTol,
	// DefaultATol); a negative value means none (0).
	RTol, ATol float64
	// MinAgreement is the share of decisions that must agree for a
	// classifier-like output to pass outside the numeric tolerance. Zero
	// means DefaultMinAgreement; a negative value turns this decision gate
	// off, so that only the numeric tolerance counts. Above 1 is an error.
	MinAgreement float64
	// MinCosine is the cosine similarity an output must also reach to pass
	// on its decisions: argmax over hidden states can agree while the
	// values are far apart (a few dimensions of huge magnitude win every
	// time). Zero means DefaultMinCosine; a negative value, no floor.
	MinCosine float64
}

// InputReport says what one input was.
type InputReport struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	// Source is "given" or "generated".
	Source string `json:"source"`
	// Values says how the values were made, e.g. "ids uniform in
	// [0, 15000) (rows of table embedding.weight)".
	Values string `json:"values"`
	// IDRange is [low, high) of an integer input: the range drawn from
	// when generated, the smallest and largest value plus one when given.
	IDRange []int64 `json:"id_range,omitempty"`
	// Table is the table whose rows generated ids index.
	Table string `json:"table,omitempty"`
}

// DimReport says what value a dynamic dimension of a generated input took
// and why.
type DimReport struct {
	Input string `json:"input"`
	Axis  int    `json:"axis"`
	// Param is the dimension's dim_param name, "" if it has none.
	Param string `json:"param,omitempty"`
	Value int64  `json:"value"`
	// Source is "dims" (set in CompareOptions.Dims), "given input NAME"
	// (the same name in a given input's shape), "samples" (the batch
	// dimension) or "default" (DefaultDynamicDim).
	Source string `json:"source"`
}

// OutputReport compares one output of the two models.
type OutputReport struct {
	Name  string  `json:"name"`
	DType string  `json:"dtype"`
	Shape []int64 `json:"shape"`
	// MaxAbsDiff is max|a-b| over the elements where both are finite.
	MaxAbsDiff float64 `json:"max_abs_diff"`
	// MaxRelDiff is MaxAbsDiff / max|b|: the largest difference relative
	// to the original's largest magnitude (MaxAbsDiff itself when the
	// original is all zeros). It is what RTol bounds.
	MaxRelDiff float64 `json:"max_rel_diff"`
	// MaxAbsOriginal is max|b|.
	MaxAbsOriginal float64 `json:"max_abs_original"`
	// Tolerance is ATol + RTol*max|b|, the bound on MaxAbsDiff.
	Tolerance float64 `json:"tolerance"`
	// Cosine is the cosine similarity of the two outputs flattened (1 when
	// both are zero).
	Cosine float64 `json:"cosine"`
	// NonFiniteMismatches counts elements where one output is NaN or
	// infinite and the other is not the same.
	NonFiniteMismatches int `json:"nonfinite_mismatches,omitempty"`
	// Agreement is the share of decisions that agree, for classifier-like
	// outputs (see DecisionKind); nil otherwise.
	Agreement *float64 `json:"agreement,omitempty"`
	// DecisionKind is how decisions are read: "argmax" over the last
	// dimension (a float output of rank >= 2 whose last dimension is
	// above 1), "threshold_0.5" (a float output [..., 1] whose original
	// values all lie in [0, 1], like a sigmoid probability), "equal"
	// (integer and bool outputs, element by element) or "" when the
	// output is not classifier-like.
	DecisionKind string `json:"decision_kind,omitempty"`
	// Decisions is the number of decisions compared.
	Decisions int `json:"decisions,omitempty"`
	// WithinTolerance says MaxAbsDiff <= Tolerance with no non-finite
	// mismatch.
	WithinTolerance bool `json:"within_tolerance"`
	// Pass says the output passes: within the tolerance, or classifier-like
	// with Agreement >= MinAgreement.
	Pass bool `json:"pass"`
	// Reason says why in words.
	Reason string `json:"reason"`
}

// CompareReport is what CompareModels found.
type CompareReport struct {
	Original  string `json:"original"`
	Rewritten string `json:"rewritten"`
	Seed      uint64 `json:"seed"`
	// RTol, ATol, MinAgreement and MinCosine are the values used;
	// MinAgreement is 0 when the decision gate is off, MinCosine -1 when
	// it has no cosine floor.
	RTol         float64        `json:"rtol"`
	ATol         float64        `json:"atol"`
	MinAgreement float64        `json:"min_agreement"`
	MinCosine    float64        `json:"min_cosine"`
	Inputs       []InputReport  `json:"inputs"`
	Dims         []DimReport    `json:"dims"`
	Outputs      []OutputReport `json:"outputs"`
	// Pass says every output passes.
	Pass bool `json:"pass"`
}

// CompareModels runs the original model and its rewrite on the same inputs
// in ONNX ort.Runtime and compares every output.
//
// Inputs not given in opts are generated, deterministically for opts.Seed:
// an integer input that a table's embedding Gather reads (directly, or
// through Cast, Reshape, Squeeze, Unsqueeze, Flatten, Identity or
// Transpose) gets ids uniform in [0, V) of that table (the smallest such
// table if several); other integer inputs get ids in [0, V) of the smallest
// table, or in [0, 2) when the model has no table. Bool inputs are fair
// coin flips, float inputs standard normal.
//
// An output passes when max|a-b| <= ATol + RTol*max|b| (b the original's,
// a the rewrite's, over the elements where both are finite, with NaN and
// infinities at the same places), or, when it is classifier-like and the
// decision gate is on, when at least MinAgreement of its decisions agree
// (see OutputReport.DecisionKind). The report passes when every output
// does.
//
// Errors are for inputs that cannot be compared: a missing or unloadable
// file, models whose inputs or outputs differ in names or element types
// (or in static sizes), given inputs that do not fit, bad options, or a
// failed run.
func CompareModels(rt *ort.Runtime, original, rewritten string, opts CompareOptions) (*CompareReport, error) {
	tol, err := compareTolerances(opts)
	if err != nil {
		return nil, err
	}
	for _, p := range []string{original, rewritten} {
		if st, err := os.Stat(p); err != nil {
			return nil, err
		} else if st.IsDir() {
			return nil, fmt.Errorf("%s: is a directory, not a model file", p)
		}
	}
	m, err := model.Load(original)
	if err != nil {
		return nil, err
	}
	ranges, err := idRanges(m)
	if err != nil {
		return nil, err
	}
	so, err := rt.NewSession(original, ort.SessionOptions{})
	if err != nil {
		return nil, err
	}
	defer so.Close()
	sr, err := rt.NewSession(rewritten, ort.SessionOptions{})
	if err != nil {
		return nil, err
	}
	defer sr.Close()
	if err := sameIO(original, rewritten, "inputs", so.Inputs(), sr.Inputs()); err != nil {
		return nil, err
	}
	if err := sameIO(original, rewritten, "outputs", so.Outputs(), sr.Outputs()); err != nil {
		return nil, err
	}

	rep := &CompareReport{Original: original, Rewritten: rewritten, Seed: opts.Seed,
		RTol: tol.rtol, ATol: tol.atol, MinAgreement: max(tol.minAgree, 0), MinCosine: tol.minCos, Dims: []DimReport{}}
	inputs, err := makeInputs(original, so.Inputs(), ranges, opts, rep)
	if err != nil {
		return nil, err
	}
	outO, err := so.Run(inputs)
	if err != nil {
		return nil, fmt.Errorf("running the original: %w", err)
	}
	outR, err := sr.Run(inputs)
	if err != nil {
		return nil, fmt.Errorf("running the rewrite: %w", err)
	}
	rep.Pass = true
	for _, info := range so.Outputs() {
		o := compareOutput(info.Name, outR[info.Name], outO[info.Name], tol)
		rep.Outputs = append(rep.Outputs, o)
		rep.Pass = rep.Pass && o.Pass
	}
	return rep, nil
}

// tolerances are the gate's settings after defaults: minAgree <= 0 turns
// the decision gate off, minCos -1 is no cosine floor.
type tolerances struct {
	rtol, atol, minAgree, minCos float64
}

func compareTolerances(opts CompareOptions) (tolerances, error) {
	pick := func(v, def float64) float64 {
		switch {
		case v == 0:
			return def
		case v < 0:
			return 0
		}
		return v
	}
	for _, v := range []float64{opts.RTol, opts.ATol, opts.MinAgreement, opts.MinCosine} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return tolerances{}, fmt.Errorf("tolerances must be finite numbers, got %v", v)
		}
	}
	if opts.MinAgreement > 1 {
		return tolerances{}, fmt.Errorf("minimum agreement %g is above 1", opts.MinAgreement)
	}
	if opts.MinCosine > 1 {
		return tolerances{}, fmt.Errorf("minimum cosine %g is above 1", opts.MinCosine)
	}
	if opts.Samples < 0 {
		return tolerances{}, fmt.Errorf("samples %d is negative", opts.Samples)
	}
	t := tolerances{rtol: pick(opts.RTol, DefaultRTol), atol: pick(opts.ATol, DefaultATol), minAgree: opts.MinAgreement, minCos: opts.MinCosine}
	if t.minAgree == 0 {
		t.minAgree = DefaultMinAgreement
	}
	switch {
	case t.minCos == 0:
		t.minCos = DefaultMinCosine
	case t.minCos < 0:
		t.minCos = -1
	}
	return t, nil
}

// idRange is where generated ids for one input come from.
type idRange struct {
	high  int64
	table string
}

// idRanges maps each main-graph input that reaches a table's embedding
// Gather (directly or through value-preserving ops) to that table's rows,
// the smallest when several; "" maps to the smallest table of all, absent
// when the model has none.
func idRanges(m *model.Model) (map[string]idRange, error) {
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	sites, err := onnxrewrite.IDSites(m, inv, nil)
	if err != nil {
		return nil, err
	}
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range m.Proto.Graph.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	isInput := map[string]bool{}
	for _, in := range model.Inputs(m) {
		isInput[in.Name] = true
	}
	passThrough := map[string]bool{"Cast": true, "Reshape": true, "Squeeze": true, "Unsqueeze": true,
		"Flatten": true, "Identity": true, "Transpose": true}
	out := map[string]idRange{}
	add := func(name string, r idRange) {
		if old, ok := out[name]; !ok || r.high < old.high {
			out[name] = r
		}
	}
	for _, tb := range inv.Tables {
		add("", idRange{tb.Shape[0], tb.Name})
	}
	for _, s := range sites {
		if s.Err != nil {
			continue
		}
		name := s.IDs
		for steps := 0; !isInput[name] && steps < len(m.Proto.Graph.Node); steps++ {
			n := producer[name]
			if n == nil || !model.IsStd(n) || !passThrough[n.OpType] || len(n.Input) == 0 {
				break
			}
			name = n.Input[0]
		}
		if isInput[name] {
			add(name, idRange{s.Rows, s.Table})
		}
	}
	return out, nil
}

// ioString prints an input or output: ids int64 [batch, 20].
func ioString(in ort.IOInfo) string {
	return fmt.Sprintf("%s %s %s", in.Name, model.DTypeName(in.Elem), model.DimsString(in.Shape, in.DimParams))
}

func ioStrings(v []ort.IOInfo) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = ioString(x)
	}
	return strings.Join(s, ", ")
}

// sameIO checks that two models have the same inputs (or outputs) by name
// and element type, and no clashing static sizes.
func sameIO(pathA, pathB, what string, a, b []ort.IOInfo) error {
	byName := map[string]ort.IOInfo{}
	for _, x := range b {
		byName[x.Name] = x
	}
	differ := func(detail string) error {
		return fmt.Errorf("%s and %s have different %s (%s): %s has %s; %s has %s",
			pathA, pathB, what, detail, pathA, ioStrings(a), pathB, ioStrings(b))
	}
	if len(a) != len(b) {
		return differ(fmt.Sprintf("%d vs %d", len(a), len(b)))
	}
	for _, x := range a {
		y, ok := byName[x.Name]
		if !ok {
			return differ(fmt.Sprintf("%q is missing from the rewrite", x.Name))
		}
		if x.Elem != y.Elem {
			return differ(fmt.Sprintf("%q is %s vs %s", x.Name, model.DTypeName(x.Elem), model.DTypeName(y.Elem)))
		}
		if len(x.Shape) != len(y.Shape) {
			return differ(fmt.Sprintf("%q has rank %d vs %d", x.Name, len(x.Shape), len(y.Shape)))
		}
		for i := range x.Shape {
			if x.Shape[i] >= 0 && y.Shape[i] >= 0 && x.Shape[i] != y.Shape[i] {
				return differ(fmt.Sprintf("%q dimension %d is %d vs %d", x.Name, i, x.Shape[i], y.Shape[i]))
			}
		}
	}
	return nil
}

// hostElem is the element type a ort.HostTensor holds.
func hostElem(t ort.HostTensor) model.DataType {
	if t.Elem != onnxpb.TensorProto_UNDEFINED {
		return t.Elem
	}
	switch t.Data.(type) {
	case []float32:
		return model.Float32
	case []float64:
		return model.Float64
	case []int64:
		return model.Int64
	case []int32:
		return model.Int32
	case []uint8:
		return model.Uint8
	case []uint16:
		return model.Uint16
	case []bool:
		return onnxpb.TensorProto_BOOL
	}
	return onnxpb.TensorProto_UNDEFINED
}

// makeInputs checks the given inputs and generates the others, filling in
// rep.Inputs and rep.Dims.
func makeInputs(file string, infos []ort.IOInfo, ranges map[string]idRange, opts CompareOptions, rep *CompareReport) (map[string]ort.HostTensor, error) {
	byName := map[string]ort.IOInfo{}
	params := map[string]bool{}
	for _, in := range infos {
		byName[in.Name] = in
		for j, p := range in.DimParams {
			if p != "" && in.Shape[j] < 0 {
				params[p] = true
			}
		}
	}
	for _, name := range slices.Sorted(maps.Keys(opts.Inputs)) {
		in, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("%s: given input %q is not a model input; the inputs are %s", file, name, ioStrings(infos))
		}
		t := opts.Inputs[name]
		if e := hostElem(t); e != in.Elem {
			return nil, fmt.Errorf("%s: given input %q holds %s, the model wants %s", file, name, model.DTypeName(e), model.DTypeName(in.Elem))
		}
		if in.Unranked {
			continue
		}
		if len(t.Shape) != len(in.Shape) {
			return nil, fmt.Errorf("%s: given input %q has shape %v, the model wants %s", file, name, t.Shape, model.DimsString(in.Shape, in.DimParams))
		}
		for j, d := range in.Shape {
			if d >= 0 && t.Shape[j] != d {
				return nil, fmt.Errorf("%s: given input %q has shape %v, the model wants %s", file, name, t.Shape, model.DimsString(in.Shape, in.DimParams))
			}
		}
	}
	for _, p := range slices.Sorted(maps.Keys(opts.Dims)) {
		if !params[p] {
			return nil, fmt.Errorf("%s: no input has a dynamic dimension named %q; the inputs are %s", file, p, ioStrings(infos))
		}
		if opts.Dims[p] <= 0 {
			return nil, fmt.Errorf("%s: dimension %q = %d: want a positive size", file, p, opts.Dims[p])
		}
	}

	// Sizes of named dimensions: set, then seen in given inputs.
	type dimVal struct {
		v   int64
		src string
	}
	named := map[string]dimVal{}
	for p, v := range opts.Dims {
		named[p] = dimVal{v, "dims"}
	}
	batch := dimVal{int64(opts.Samples), "samples"}
	if batch.v == 0 {
		batch.v = DefaultSamples
	}
	firstGiven := true
	for _, in := range infos {
		t, ok := opts.Inputs[in.Name]
		if !ok {
			continue
		}
		if firstGiven && len(t.Shape) > 0 {
			batch = dimVal{t.Shape[0], "given input " + in.Name}
			firstGiven = false
		}
		for j, p := range in.DimParams {
			if p == "" || in.Shape[j] >= 0 {
				continue
			}
			if d, ok := named[p]; ok && d.v != t.Shape[j] {
				return nil, fmt.Errorf("%s: given input %q has %d for dimension %q, which is %d (%s)", file, in.Name, t.Shape[j], p, d.v, d.src)
			}
			if _, ok := named[p]; !ok {
				named[p] = dimVal{t.Shape[j], "given input " + in.Name}
			}
		}
	}

	rng := rand.New(rand.NewPCG(opts.Seed, 0x656d6273687269))
	out := map[string]ort.HostTensor{}
	for _, in := range infos {
		if t, ok := opts.Inputs[in.Name]; ok {
			out[in.Name] = t
			rep.Inputs = append(rep.Inputs, givenReport(in, t))
			continue
		}
		if in.Unranked {
			return nil, fmt.Errorf("%s: input %q is declared without a shape, so its rank is unknown: give its values (validate --inputs)", file, in.Name)
		}
		shape := make([]int64, len(in.Shape))
		for j, d := range in.Shape {
			if d >= 0 {
				shape[j] = d
				continue
			}
			p := in.DimParams[j]
			dv, ok := named[p]
			switch {
			case ok && p != "":
			case j == 0:
				dv = batch
			default:
				dv = dimVal{DefaultDynamicDim, "default"}
			}
			if p != "" && !ok {
				named[p] = dv
			}
			shape[j] = dv.v
			rep.Dims = append(rep.Dims, DimReport{Input: in.Name, Axis: j, Param: p, Value: dv.v, Source: dv.src})
		}
		t, ir, err := generate(in, shape, ranges, rng)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out[in.Name] = t
		rep.Inputs = append(rep.Inputs, ir)
	}
	return out, nil
}

// givenReport describes a given input.
func givenReport(in ort.IOInfo, t ort.HostTensor) InputReport {
	r := InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: slices.Clone(t.Shape), Source: "given", Values: "given"}
	var lo, hi int64
	seen := false
	note := func(v int64) {
		if !seen || v < lo {
			lo = v
		}
		if !seen || v > hi {
			hi = v
		}
		seen = true
	}
	switch d := t.Data.(type) {
	case []int64:
		for _, v := range d {
			note(v)
		}
	case []int32:
		for _, v := range d {
			note(int64(v))
		}
	case []uint8:
		for _, v := range d {
			note(int64(v))
		}
	case []uint16:
		if model.IsInteger(in.Elem) {
			for _, v := range d {
				note(int64(v))
			}
		}
	}
	if seen {
		r.IDRange = []int64{lo, hi + 1}
		r.Values = fmt.Sprintf("ids in [%d, %d]", lo, hi)
	}
	return r
}

// generate draws one input's values.
func generate(in ort.IOInfo, shape []int64, ranges map[string]idRange, rng *rand.Rand) (ort.HostTensor, InputReport, error) {
	n, err := ort.ElemCount(shape)
	if err != nil {
		return ort.HostTensor{}, InputReport{}, fmt.Errorf("input %q: %w", in.Name, err)
	}
	t := ort.HostTensor{Shape: shape, Elem: in.Elem}
	r := InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: shape, Source: "generated"}
	switch in.Elem {
	case model.Int64, model.Int32, model.Uint8, model.Uint16:
		rg, direct := ranges[in.Name]
		if !direct {
			rg = ranges[""]
		}
		high := rg.high
		if high <= 0 {
			high = 2
		}
		switch in.Elem {
		case model.Int32:
			high = min(high, math.MaxInt32)
		case model.Uint8:
			high = min(high, math.MaxUint8+1)
		case model.Uint16:
			high = min(high, math.MaxUint16+1)
		}
		r.IDRange = []int64{0, high}
		switch {
		case direct:
			r.Table = rg.table
			r.Values = fmt.Sprintf("ids uniform in [0, %d) (rows of table %s)", high, rg.table)
		case rg.table != "":
			r.Table = rg.table
			r.Values = fmt.Sprintf("ids uniform in [0, %d) (no table's Gather reads this input directly; rows of the smallest table, %s)", high, rg.table)
		default:
			r.Values = fmt.Sprintf("integers uniform in [0, %d) (the model has no embedding table)", high)
		}
		v := make([]int64, n)
		for i := range v {
			v[i] = rng.Int64N(high)
		}
		switch in.Elem {
		case model.Int64:
			t.Data = v
		case model.Int32:
			t.Data = inputs.ConvertInts[int32](v)
		case model.Uint8:
			t.Data = inputs.ConvertInts[uint8](v)
		case model.Uint16:
			t.Data = inputs.ConvertInts[uint16](v)
		}
	case onnxpb.TensorProto_BOOL:
		v := make([]bool, n)
		for i := range v {
			v[i] = rng.IntN(2) == 1
		}
		t.Data = v
		r.Values = "booleans, true with probability 1/2"
	case model.Float32, model.Float64, model.Float16, model.BFloat16:
		r.Values = "standard normal"
		switch in.Elem {
		case model.Float32:
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64())
			}
			t.Data = v
		case model.Float64:
			v := make([]float64, n)
			for i := range v {
				v[i] = rng.NormFloat64()
			}
			t.Data = v
		case model.Float16:
			v := make([]uint16, n)
			for i := range v {
				v[i] = half.FromFloat32(float32(rng.NormFloat64()))
			}
			t.Data = v
		case model.BFloat16:
			v := make([]uint16, n)
			for i := range v {
				v[i] = half.BFloat16FromFloat32(float32(rng.NormFloat64()))
			}
			t.Data = v
		}
	default:
		return ort.HostTensor{}, InputReport{}, fmt.Errorf("input %q is %s, which cannot be generated; give its values", in.Name, model.DTypeName(in.Elem))
	}
	return t, r, nil
}

// hostFloats widens a tensor's elements to float64; bools are 0 or 1.
func hostFloats(t ort.HostTensor) ([]float64, bool) {
	switch d := t.Data.(type) {
	case []float32:
		return convertFloats(d), true
	case []float64:
		return d, true
	case []int64:
		return convertFloats(d), false
	case []int32:
		return convertFloats(d), false
	case []uint8:
		return convertFloats(d), false
	case []uint16:
		switch t.Elem {
		case model.Float16:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = float64(half.ToFloat32(v))
			}
			return out, true
		case model.BFloat16:
			out := make([]float64, len(d))
			for i, v := range d {
				out[i] = float64(half.BFloat16ToFloat32(v))
			}
			return out, true
		}
		return convertFloats(d), false
	case []bool:
		out := make([]float64, len(d))
		for i, v := range d {
			if v {
				out[i] = 1
			}
		}
		return out, false
	}
	return nil, false
}

func convertFloats[T float32 | float64 | int64 | int32 | uint8 | uint16](v []T) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// compareOutput compares output a of the rewrite with b of the original.
func compareOutput(name string, a, b ort.HostTensor, tol tolerances) OutputReport {
	o := OutputReport{Name: name, DType: model.DTypeName(b.Elem), Shape: slices.Clone(b.Shape)}
	if !slices.Equal(a.Shape, b.Shape) {
		o.Reason = fmt.Sprintf("shape %v, the original's is %v", a.Shape, b.Shape)
		return o
	}
	x, isFloat := hostFloats(a)
	y, _ := hostFloats(b)
	if x == nil || y == nil || len(x) != len(y) {
		o.Reason = fmt.Sprintf("cannot compare outputs of types %T and %T", a.Data, b.Data)
		return o
	}
	var dot, nx, ny float64
	for i := range x {
		xf, yf := !math.IsNaN(x[i]) && !math.IsInf(x[i], 0), !math.IsNaN(y[i]) && !math.IsInf(y[i], 0)
		if !xf || !yf {
			same := (math.IsNaN(x[i]) && math.IsNaN(y[i])) || x[i] == y[i]
			if !same {
				o.NonFiniteMismatches++
			}
			continue
		}
		o.MaxAbsDiff = max(o.MaxAbsDiff, math.Abs(x[i]-y[i]))
		o.MaxAbsOriginal = max(o.MaxAbsOriginal, math.Abs(y[i]))
		dot += x[i] * y[i]
		nx += x[i] * x[i]
		ny += y[i] * y[i]
	}
	switch {
	case nx == 0 && ny == 0:
		o.Cosine = 1
	case nx == 0 || ny == 0:
		o.Cosine = 0
	default:
		o.Cosine = dot / math.Sqrt(nx) / math.Sqrt(ny)
	}
	o.MaxRelDiff = o.MaxAbsDiff
	if o.MaxAbsOriginal > 0 {
		o.MaxRelDiff = o.MaxAbsDiff / o.MaxAbsOriginal
	}
	o.Tolerance = tol.atol + tol.rtol*o.MaxAbsOriginal
	o.WithinTolerance = o.NonFiniteMismatches == 0 && o.MaxAbsDiff <= o.Tolerance

	agree, total := decisions(x, y, b.Shape, isFloat, &o)
	if total > 0 {
		share := float64(agree) / float64(total)
		o.Agreement = &share
		o.Decisions = total
	}
	cmp := ">"
	if o.MaxAbsDiff <= o.Tolerance {
		cmp = "<="
	}
	numeric := fmt.Sprintf("max abs diff %.3g %s tolerance %.3g", o.MaxAbsDiff, cmp, o.Tolerance)
	if o.NonFiniteMismatches > 0 {
		numeric = fmt.Sprintf("%d NaN/Inf mismatches", o.NonFiniteMismatches)
	}
	switch {
	case o.WithinTolerance:
		o.Pass = true
		o.Reason = "within tolerance: " + numeric
	case o.Agreement != nil && tol.minAgree > 0 && *o.Agreement >= tol.minAgree && o.Cosine >= tol.minCos:
		o.Pass = true
		o.Reason = fmt.Sprintf("outside tolerance (%s) but %s decisions agree %.2f%% >= %.2f%%", numeric, o.DecisionKind, 100**o.Agreement, 100*tol.minAgree)
		if tol.minCos > -1 {
			o.Reason += fmt.Sprintf(" with cosine %.4f >= %g", o.Cosine, tol.minCos)
		}
	case o.Agreement != nil && tol.minAgree > 0 && *o.Agreement >= tol.minAgree:
		o.Reason = fmt.Sprintf("outside tolerance (%s); %s decisions agree %.2f%% but the cosine %.4f is under %g, so the decisions do not decide", numeric, o.DecisionKind, 100**o.Agreement, o.Cosine, tol.minCos)
	case o.Agreement != nil && tol.minAgree > 0:
		o.Reason = fmt.Sprintf("outside tolerance (%s) and %s decisions agree %.2f%% < %.2f%%", numeric, o.DecisionKind, 100**o.Agreement, 100*tol.minAgree)
	default:
		o.Reason = "outside tolerance: " + numeric
	}
	return o
}

// decisions counts agreeing decisions of a classifier-like output and sets
// o.DecisionKind; it returns 0, 0 for other outputs.
func decisions(x, y []float64, shape []int64, isFloat bool, o *OutputReport) (agree, total int) {
	if !isFloat {
		o.DecisionKind = "equal"
		for i := range x {
			if x[i] == y[i] {
				agree++
			}
		}
		return agree, len(x)
	}
	if len(shape) < 2 || len(x) == 0 {
		return 0, 0
	}
	last := int(shape[len(shape)-1])
	switch {
	case last > 1:
		o.DecisionKind = "argmax"
		for i := 0; i+last <= len(x); i += last {
			if argmax(x[i:i+last]) == argmax(y[i:i+last]) {
				agree++
			}
			total++
		}
		return agree, total
	case last == 1:
		for _, v := range y {
			if !(v >= 0 && v <= 1) {
				return 0, 0
			}
		}
		o.DecisionKind = "threshold_0.5"
		for i := range x {
			if (x[i] > 0.5) == (y[i] > 0.5) {
				agree++
			}
		}
		return agree, len(x)
	}
	return 0, 0
}

// argmax is the index of the first largest value, NaNs skipped.
func argmax(v []float64) int {
	best := -1
	for i, x := range v {
		if math.IsNaN(x) {
			continue
		}
		if best < 0 || x > v[best] {
			best = i
		}
	}
	return best
}
