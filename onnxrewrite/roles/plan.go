package roles

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// DefaultDynamicDim is the size of a dynamic dimension nothing else sets.
const DefaultDynamicDim = 16

// Sizes are what a caller sets of the generated inputs' dynamic
// dimensions.
type Sizes struct {
	// Batch is the first dimension of batch-major inputs when it is
	// dynamic and neither Dims nor a given input sets it; BatchFrom says
	// where it came from ("samples" when empty).
	Batch     int64
	BatchFrom string
	// Dims sets dynamic dimensions by their dim_param name.
	Dims map[string]int64
}

// Dim says what size a dimension of a generated input took, and why.
type Dim struct {
	Input string `json:"input"`
	Axis  int    `json:"axis"`
	// Param is the dimension's dim_param name, "" if it has none.
	Param string `json:"param,omitempty"`
	Value int64  `json:"value"`
	// Source is "dims" (Sizes.Dims), "given input NAME" (the same name in
	// a given input's shape), "samples" (Sizes.Batch), "default"
	// (DefaultDynamicDim), "empty past" (a past cache's length), "input
	// NAME" (a mask's or position ids' length as their ids'), a sum of
	// named dimensions ("past_sequence_length + sequence_length"), "N ids
	// per bag" (an EmbeddingBag's ids), or "samples, run one at a time"
	// (a batch fixed at 1).
	Source string `json:"source"`
}

// Plan is the shapes of the inputs to generate.
type Plan struct {
	// Shapes are the shapes of the inputs not given.
	Shapes map[string][]int64
	// Dims say how each dynamic dimension of those inputs was sized.
	Dims []Dim
	// Named are the sizes of every named dimension known.
	Named map[string]int64
	// Batch is the batch size, and BatchMajor the inputs whose first
	// axis it is.
	Batch      int64
	BatchMajor []string
	// Divisible says a batch can run in parts: every input is batch-major
	// but scalars and use_cache_branch, fed whole to each part (an
	// EmbeddingBag's offsets index its ids, so neither splits alone).
	Divisible bool
	// OneByOne says the model's batch is fixed at 1: the given and the
	// generated batch-major inputs hold Batch samples along axis 0, to be
	// run one at a time.
	OneByOne bool
}

// dimVal is a dimension's size and where it came from.
type dimVal struct {
	v   int64
	src string
}

// BatchMajor says whether an input's first axis is the batch: every
// input of rank 1 or more but use_cache_branch and an EmbeddingBag's ids
// and offsets (which index every bag's ids).
func (r *Roles) BatchMajor(in Input) bool {
	return len(in.Shape) > 0 && in.Kind != UseCache && in.Kind != Offsets && !r.bagIDs(in)
}

func (r *Roles) bagIDs(in Input) bool {
	return slices.ContainsFunc(r.Inputs, func(o Input) bool { return o.Kind == Offsets && o.With == in.Name })
}

// companion says the input's sizes follow its ids'.
func companion(in Input) bool {
	return in.With != "" && (in.Kind == Mask || in.Kind == Positions || in.Kind == TokenTypes)
}

// Plan sizes the inputs not in given. A dynamic dimension takes, in
// order: its size by name (Sizes.Dims, then a given input's), the sum of
// the named dimensions its name adds up ("past_sequence_length +
// sequence_length"), 0 for a past cache's length, the batch for the first
// axis of a batch-major input (the first given batch-major input's, else
// Sizes.Batch), its ids' size at the same axis for a mask, position ids
// or token types, DefaultDynamicDim ids per bag for an EmbeddingBag's ids,
// and DefaultDynamicDim otherwise. A model whose batch is fixed at 1
// runs its samples (the given inputs' rows, else Sizes.Batch) one at a
// time (OneByOne); the given batch-major inputs must then agree on them.
func (r *Roles) Plan(given map[string]model.HostTensor, s Sizes) (*Plan, error) {
	named, batch, err := r.knownDims(given, s)
	if err != nil {
		return nil, err
	}
	p := &Plan{Shapes: map[string][]int64{}, Batch: batch.v, Divisible: true}
	p.OneByOne = batch.v > 1 && r.fixedBatchOne()
	if _, _, err := r.SplitRows(given); err != nil {
		return nil, err
	}
	for _, in := range r.Inputs {
		switch {
		case r.BatchMajor(in):
			p.BatchMajor = append(p.BatchMajor, in.Name)
		case len(in.Shape) > 0 && in.Kind != UseCache:
			p.Divisible = false
		}
	}
	// Companions follow their ids, so they come last.
	for _, late := range []bool{false, true} {
		for _, in := range r.Inputs {
			if _, ok := given[in.Name]; ok || companion(in) != late {
				continue
			}
			if in.Shape == nil {
				return nil, fmt.Errorf("%s: input %q is declared without a shape, so its rank is unknown: give its values", r.Path, in.Name)
			}
			p.Shapes[in.Name] = r.shapeOf(in, named, batch, p, given)
		}
	}
	p.Named = map[string]int64{}
	for name, dv := range named {
		p.Named[name] = dv.v
	}
	return p, nil
}

// shapeOf sizes one input, noting its dimensions in p.Dims and the names
// it settles in named.
func (r *Roles) shapeOf(in Input, named map[string]dimVal, batch dimVal, p *Plan, given map[string]model.HostTensor) []int64 {
	shape := make([]int64, len(in.Shape))
	for j, d := range in.Shape {
		if d >= 0 {
			shape[j] = d
			if j == 0 && d == 1 && p.OneByOne && r.BatchMajor(in) {
				shape[j] = batch.v
				p.Dims = append(p.Dims, Dim{Input: in.Name, Axis: j, Value: batch.v, Source: batch.src + ", run one at a time (the model's batch is fixed at 1)"})
			}
			continue
		}
		name := in.DimParams[j]
		dv, ok := named[name]
		ok = ok && name != ""
		if !ok {
			dv = r.unnamed(in, j, named, batch, p, given)
			if name != "" {
				named[name] = dv
			}
		}
		shape[j] = dv.v
		p.Dims = append(p.Dims, Dim{Input: in.Name, Axis: j, Param: name, Value: dv.v, Source: dv.src})
	}
	return shape
}

// unnamed sizes axis j of in when no name sets it.
func (r *Roles) unnamed(in Input, j int, named map[string]dimVal, batch dimVal, p *Plan, given map[string]model.HostTensor) dimVal {
	if v, ok := sumOf(in.DimParams[j], named); ok {
		return dimVal{v, in.DimParams[j]}
	}
	switch {
	case in.Kind == Past && j == in.PastAxis:
		return dimVal{0, "empty past"}
	case j == 0 && (r.BatchMajor(in) || in.Kind == Offsets):
		return batch
	case companion(in):
		ids, ok := p.Shapes[in.With]
		if t, isGiven := given[in.With]; isGiven {
			ids, ok = t.Shape, true
		}
		if ok && j < len(ids) {
			return dimVal{ids[j], "input " + in.With}
		}
	case j == 0 && r.bagIDs(in):
		return dimVal{batch.v * DefaultDynamicDim, fmt.Sprintf("%d ids per bag", DefaultDynamicDim)}
	}
	return dimVal{DefaultDynamicDim, "default"}
}

// sumOf adds up a dimension named as a sum of named dimensions and
// integers ("past_sequence_length + 1").
func sumOf(name string, named map[string]dimVal) (int64, bool) {
	terms := strings.Split(name, "+")
	if len(terms) < 2 {
		return 0, false
	}
	var sum int64
	for _, t := range terms {
		t = strings.TrimSpace(t)
		if v, err := strconv.ParseInt(t, 10, 64); err == nil {
			sum += v
		} else if dv, ok := named[t]; ok {
			sum += dv.v
		} else {
			return 0, false
		}
	}
	return sum, true
}

// SplitRows says how given inputs run where the model's batch is fixed at
// 1 and they hold n > 1 samples (AnyRows): one sample at a time, split
// along axis 0 of the inputs named in major, which must all hold n; n is
// 1 (and major nil) where they run whole.
func (r *Roles) SplitRows(given map[string]model.HostTensor) (n int64, major []string, err error) {
	n, names := 1, slices.Sorted(maps.Keys(given))
	for _, name := range names {
		if in, ok := r.Get(name); ok && r.AnyRows(in, 0) && len(given[name].Shape) > 0 {
			n = max(n, given[name].Shape[0])
		}
	}
	if n == 1 {
		return 1, nil, nil
	}
	for _, name := range names {
		in, ok := r.Get(name)
		if !ok || !r.BatchMajor(in) {
			continue
		}
		if t := given[name]; len(t.Shape) == 0 || t.Shape[0] != n {
			return 0, nil, fmt.Errorf("%s: given input %q has shape %v, where the others hold %d samples: the model's batch is fixed at 1, so its samples run one at a time and every input must hold them all", r.Path, name, t.Shape, n)
		}
		major = append(major, name)
	}
	return n, major, nil
}

// AnyRows says whether axis j of input in takes any number of samples
// though the model fixes it at 1: the first axis of a batch-major input of
// rank 2 or more of a model whose batch is fixed at 1 (torch.onnx.export
// without dynamic axes), whose samples then run one at a time.
func (r *Roles) AnyRows(in Input, j int) bool {
	return j == 0 && len(in.Shape) >= 2 && in.Shape[0] == 1 && r.BatchMajor(in) && r.fixedBatchOne()
}

// fixedBatchOne says the model's batch is fixed at 1: some batch-major
// input of rank 2 or more has 1 on its first axis and none has a dynamic
// one.
func (r *Roles) fixedBatchOne() bool {
	one := false
	for _, in := range r.Inputs {
		if !r.BatchMajor(in) {
			continue
		}
		if in.Shape[0] < 0 {
			return false
		}
		one = one || (in.Shape[0] == 1 && len(in.Shape) >= 2)
	}
	return one
}

// knownDims are the sizes of named dimensions set by s.Dims, then seen in
// given inputs, and the batch: the first given batch-major input's first
// dimension, else s.Batch.
func (r *Roles) knownDims(given map[string]model.HostTensor, s Sizes) (map[string]dimVal, dimVal, error) {
	named := map[string]dimVal{}
	for _, p := range slices.Sorted(maps.Keys(s.Dims)) {
		named[p] = dimVal{s.Dims[p], "dims"}
	}
	batch := dimVal{s.Batch, s.BatchFrom}
	if batch.src == "" {
		batch.src = "samples"
	}
	firstGiven := true
	for _, in := range r.Inputs {
		t, ok := given[in.Name]
		if !ok {
			continue
		}
		if firstGiven && r.BatchMajor(in) && len(t.Shape) > 0 {
			batch = dimVal{t.Shape[0], "given input " + in.Name}
			firstGiven = false
		}
		for j, p := range in.DimParams {
			if p == "" || in.Shape[j] >= 0 || j >= len(t.Shape) {
				continue
			}
			if d, ok := named[p]; ok && d.v != t.Shape[j] {
				return nil, batch, fmt.Errorf("%s: given input %q has %d for dimension %q, which is %d (%s)", r.Path, in.Name, t.Shape[j], p, d.v, d.src)
			}
			if _, ok := named[p]; !ok {
				named[p] = dimVal{t.Shape[j], "given input " + in.Name}
			}
		}
	}
	return named, batch, nil
}
