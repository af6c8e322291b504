package roles

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/embshrink/embshrink/internal/half"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Value is a generated input and how it was made.
type Value struct {
	Tensor model.HostTensor
	// Values says how, e.g. "ids uniform in [0, 300) (rows of table emb)".
	Values string
	// IDRange is [low, high) of integers drawn uniformly.
	IDRange []int64
	// Table is the table whose rows generated ids index.
	Table string
	// NotReal says no role describes the input, so its values are made up
	// (normal noise, coin flips, integers in a guessed range): a result on
	// them says little about real data.
	NotReal bool
}

// Generate makes the inputs of plan.Shapes, deterministically for rng:
//
//   - ids: uniform over their table's rows (an integer input no table
//     reads: over the smallest table's, or [0, 2) with no table);
//   - position ids: 0..n-1 along the last axis;
//   - a mask: all ones; with a padding id (Pad) each row's ones end
//     where its ids' padding starts, and generated ids get a random
//     length per row, padded after it;
//   - token types: zeros; use_cache_branch: false;
//   - bag offsets: a sorted partition of their ids, starting at 0;
//   - a past cache: empty (its past length is 0 unless set);
//   - other inputs: standard normal floats, fair coin flips or ids as
//     above, marked NotReal.
//
// Masks and offsets come after the other inputs, which they read from
// given (or what is generated).
func (r *Roles) Generate(p *Plan, given map[string]model.HostTensor, rng *rand.Rand) (map[string]Value, error) {
	out := map[string]Value{}
	for _, late := range []bool{false, true} {
		for _, in := range r.Inputs {
			shape, ok := p.Shapes[in.Name]
			if !ok || (in.Kind == Mask || in.Kind == Offsets) != late {
				continue
			}
			v, err := r.generate(in, shape, given, out, rng)
			if err != nil {
				return nil, fmt.Errorf("%s: input %q: %w", r.Path, in.Name, err)
			}
			v.Tensor.Shape = shape
			out[in.Name] = v
		}
	}
	return out, nil
}

// generate makes one input; made holds the inputs generated so far.
func (r *Roles) generate(in Input, shape []int64, given map[string]model.HostTensor, made map[string]Value, rng *rand.Rand) (Value, error) {
	n, err := model.ElemCount(shape)
	if err != nil {
		return Value{}, err
	}
	last := int64(1)
	if len(shape) > 0 {
		last = max(shape[len(shape)-1], 1)
	}
	switch in.Kind {
	case IDs:
		return r.randomIDs(in, n, rng)
	case Positions:
		if in.Table != "" && last > in.Rows {
			return Value{}, fmt.Errorf("positions up to %d are past the %d rows of table %s: set a shorter sequence (--dim)", last-1, in.Rows, in.Table)
		}
		v, err := fill(in.Elem, n, func(i int) float64 { return float64(int64(i) % last) })
		return Value{Tensor: v, Values: fmt.Sprintf("positions 0..%d along each row", last-1), IDRange: []int64{0, last}, Table: in.Table}, err
	case TokenTypes:
		v, err := fill(in.Elem, n, func(int) float64 { return 0 })
		return Value{Tensor: v, Values: "zeros (token types)", IDRange: []int64{0, 1}, Table: in.Table}, err
	case UseCache:
		v, err := fill(in.Elem, n, func(int) float64 { return 0 })
		return Value{Tensor: v, Values: "false (no cache: the branch that computes every position)"}, err
	case Past:
		v, err := fill(in.Elem, n, func(int) float64 { return rng.NormFloat64() })
		if n == 0 {
			return Value{Tensor: v, Values: "empty (past length 0, as generation starts)"}, err
		}
		return Value{Tensor: v, Values: fmt.Sprintf("standard normal, past length %d: not real data", shape[in.PastAxis]), NotReal: true}, err
	case Mask:
		return r.mask(in, shape, given, made, rng)
	case Offsets:
		return r.offsets(in, shape, given, made, rng)
	}
	return r.noise(in, n, rng)
}

// noise makes up values for an input no role describes.
func (r *Roles) noise(in Input, n int, rng *rand.Rand) (Value, error) {
	switch {
	case model.IsInteger(in.Elem):
		v, err := r.randomIDs(in, n, rng)
		v.NotReal = true
		v.Values += ": not real data"
		return v, err
	case in.Elem == onnxpb.TensorProto_BOOL:
		t, err := fill(in.Elem, n, func(int) float64 { return float64(rng.IntN(2)) })
		return Value{Tensor: t, Values: "booleans, true with probability 1/2: not real data", NotReal: true}, err
	case isFloat(in.Elem):
		t, err := fill(in.Elem, n, func(int) float64 { return rng.NormFloat64() })
		return Value{Tensor: t, Values: "standard normal: not real data", NotReal: true}, err
	}
	return Value{}, fmt.Errorf("it is %s, which cannot be generated; give its values", model.DTypeName(in.Elem))
}

// randomIDs draws integers uniform over the rows of the table in indexes
// (the smallest table when none), in its element type.
func (r *Roles) randomIDs(in Input, n int, rng *rand.Rand) (Value, error) {
	tb := tableRef{name: in.Table, rows: in.Rows}
	if tb.name == "" {
		tb = r.fallback
	}
	high := tb.rows
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
	v := Value{IDRange: []int64{0, high}, Table: tb.name}
	switch {
	case in.Table != "":
		v.Values = fmt.Sprintf("ids uniform in [0, %d) (rows of table %s)", high, tb.name)
	case tb.name != "":
		v.Values = fmt.Sprintf("ids uniform in [0, %d) (no table's Gather reads this input directly; rows of the smallest table, %s)", high, tb.name)
	default:
		v.Values = fmt.Sprintf("integers uniform in [0, %d) (the model has no embedding table)", high)
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = rng.Int64N(high)
	}
	var err error
	v.Tensor, err = FromInt64s(in.Elem, nil, ids)
	return v, err
}

// fill makes n values f(i) of an element type: integers and floats as
// they are, bools true where f is not 0, 16-bit floats rounded.
func fill(elem model.DataType, n int, f func(int) float64) (model.HostTensor, error) {
	t := model.HostTensor{Elem: elem}
	switch elem {
	case model.Float32:
		t.Data = fillSlice(n, func(i int) float32 { return float32(f(i)) })
	case model.Float64:
		t.Data = fillSlice(n, f)
	case model.Float16:
		t.Data = fillSlice(n, func(i int) uint16 { return half.FromFloat32(float32(f(i))) })
	case model.BFloat16:
		t.Data = fillSlice(n, func(i int) uint16 { return half.BFloat16FromFloat32(float32(f(i))) })
	case onnxpb.TensorProto_BOOL:
		t.Data = fillSlice(n, func(i int) bool { return f(i) != 0 })
	default:
		return FromInt64s(elem, nil, fillSlice(n, func(i int) int64 { return int64(f(i)) }))
	}
	return t, nil
}

func fillSlice[T any](n int, f func(int) T) []T {
	v := make([]T, n)
	for i := range v {
		v[i] = f(i)
	}
	return v
}

// FromInt64s converts integers the caller has checked to fit into a
// tensor of elem (an integer type ort passes, bool, or a float type).
func FromInt64s(elem model.DataType, shape []int64, v []int64) (model.HostTensor, error) {
	t := model.HostTensor{Shape: shape, Elem: elem}
	switch elem {
	case model.Int64:
		t.Data = v
	case model.Int32:
		t.Data = convert[int32](v)
	case model.Uint8:
		t.Data = convert[uint8](v)
	case model.Uint16:
		t.Data = convert[uint16](v)
	case onnxpb.TensorProto_BOOL, model.Float32, model.Float64, model.Float16, model.BFloat16:
		return fill(elem, len(v), func(i int) float64 { return float64(v[i]) })
	default:
		return t, fmt.Errorf("it is %s, which ONNX Runtime is not passed here (int64, int32, uint8, uint16, bool or a float type)", model.DTypeName(elem))
	}
	return t, nil
}

func convert[T int32 | uint8 | uint16](v []int64) []T {
	out := make([]T, len(v))
	for i, x := range v {
		out[i] = T(x)
	}
	return out
}

// Complete adds to given the inputs it lacks, made by their roles and
// sized from given (Plan), for running the whole model on given: the
// inputs calibration or a held-back set leaves out. An input no role
// describes is refused, naming it and how to pass it (flag
// NAME=FILE.npy): made-up values are no calibration. made says what was
// added.
func (r *Roles) Complete(given map[string]model.HostTensor, flag string) (map[string]model.HostTensor, map[string]Value, error) {
	for _, in := range r.Inputs {
		if _, ok := given[in.Name]; !ok && in.Kind == Other {
			return nil, nil, fmt.Errorf("%s: input %q (%s %s) is not given and no role says what it holds (not ids, a mask, positions, token types or a past cache): pass its values with %s %s=FILE.npy",
				r.Path, in.Name, model.DTypeName(in.Elem), model.DimsString(in.Shape, in.DimParams), flag, in.Name)
		}
	}
	p, err := r.Plan(given, Sizes{Batch: 1})
	if err != nil {
		return nil, nil, err
	}
	made, err := r.Generate(p, given, rand.New(rand.NewPCG(0, 0x726f6c6573)))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]model.HostTensor{}
	for name, t := range given {
		out[name] = t
	}
	for _, in := range r.Inputs {
		v, ok := made[in.Name]
		if ok && v.NotReal {
			return nil, nil, fmt.Errorf("%s: input %q is not given and would be %s: pass its values with %s %s=FILE.npy", r.Path, in.Name, v.Values, flag, in.Name)
		}
		if ok {
			out[in.Name] = v.Tensor
		}
	}
	return out, made, nil
}
