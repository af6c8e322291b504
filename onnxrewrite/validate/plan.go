package validate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// MaxGeneratedBytes bounds the inputs validate generates, and the outputs
// they make whose size follows from them, for each model: a --samples
// that would take more is refused before anything is allocated.
const MaxGeneratedBytes = 512 << 20

// dimVal is a dynamic dimension's size and where it came from.
type dimVal struct {
	v   int64
	src string
}

// inputPlan is one input: given values, or the shape to generate and how
// its dynamic dimensions were chosen.
type inputPlan struct {
	info  ort.IOInfo
	given *ort.HostTensor
	shape []int64
	dims  []DimReport
}

// makeInputs checks the given inputs, resolves the generated inputs'
// shapes, refuses a plan over MaxGeneratedBytes, generates the values and
// then fills in rep.Inputs and rep.Dims.
func makeInputs(file string, infos, outputs []ort.IOInfo, ranges map[string]idRange, opts CompareOptions, rep *CompareReport) (map[string]ort.HostTensor, error) {
	if err := checkGiven(file, infos, opts); err != nil {
		return nil, err
	}
	plans, named, err := planInputs(file, infos, opts)
	if err != nil {
		return nil, err
	}
	if err := checkBudget(file, plans, outputs, named); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(opts.Seed, 0x656d6273687269))
	out := map[string]ort.HostTensor{}
	reports := make([]InputReport, len(plans))
	for i, p := range plans {
		if p.given != nil {
			out[p.info.Name], reports[i] = *p.given, givenReport(p.info, *p.given)
			continue
		}
		t, ir, err := generate(p.info, p.shape, ranges, rng)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		out[p.info.Name], reports[i] = t, ir
	}
	for i, p := range plans {
		rep.Inputs = append(rep.Inputs, reports[i])
		rep.Dims = append(rep.Dims, p.dims...)
	}
	return out, nil
}

// checkGiven checks given inputs and set dimensions against the model.
func checkGiven(file string, infos []ort.IOInfo, opts CompareOptions) error {
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
			return fmt.Errorf("%s: given input %q is not a model input; the inputs are %s", file, name, ioStrings(infos))
		}
		t := opts.Inputs[name]
		if e := hostElem(t); e != in.Elem {
			return fmt.Errorf("%s: given input %q holds %s, the model wants %s", file, name, model.DTypeName(e), model.DTypeName(in.Elem))
		}
		if in.Unranked {
			continue
		}
		bad := len(t.Shape) != len(in.Shape)
		for j, d := range in.Shape {
			bad = bad || (d >= 0 && t.Shape[j] != d)
		}
		if bad {
			return fmt.Errorf("%s: given input %q has shape %v, the model wants %s", file, name, t.Shape, model.DimsString(in.Shape, in.DimParams))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(opts.Dims)) {
		if !params[p] {
			return fmt.Errorf("%s: no input has a dynamic dimension named %q; the inputs are %s", file, p, ioStrings(infos))
		}
		if opts.Dims[p] <= 0 {
			return fmt.Errorf("%s: dimension %q = %d: want a positive size", file, p, opts.Dims[p])
		}
	}
	return nil
}

// knownDims are the sizes of named dimensions set by opts.Dims, then seen
// in given inputs, and the batch size: the first given input's first
// dimension, else opts.Samples.
func knownDims(file string, infos []ort.IOInfo, opts CompareOptions) (map[string]dimVal, dimVal, error) {
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
			if p == "" || in.Shape[j] >= 0 || j >= len(t.Shape) {
				continue
			}
			if d, ok := named[p]; ok && d.v != t.Shape[j] {
				return nil, batch, fmt.Errorf("%s: given input %q has %d for dimension %q, which is %d (%s)", file, in.Name, t.Shape[j], p, d.v, d.src)
			}
			if _, ok := named[p]; !ok {
				named[p] = dimVal{t.Shape[j], "given input " + in.Name}
			}
		}
	}
	return named, batch, nil
}

// planInputs resolves every input: given, or a shape to generate.
func planInputs(file string, infos []ort.IOInfo, opts CompareOptions) ([]inputPlan, map[string]dimVal, error) {
	named, batch, err := knownDims(file, infos, opts)
	if err != nil {
		return nil, nil, err
	}
	var plans []inputPlan
	for _, in := range infos {
		p := inputPlan{info: in}
		if t, ok := opts.Inputs[in.Name]; ok {
			p.given = &t
			plans = append(plans, p)
			continue
		}
		if in.Unranked {
			return nil, nil, fmt.Errorf("%s: input %q is declared without a shape, so its rank is unknown: give its values (validate --inputs)", file, in.Name)
		}
		p.shape = make([]int64, len(in.Shape))
		for j, d := range in.Shape {
			if d >= 0 {
				p.shape[j] = d
				continue
			}
			name := in.DimParams[j]
			dv, ok := named[name]
			switch {
			case ok && name != "":
			case j == 0:
				dv = batch
			default:
				dv = dimVal{DefaultDynamicDim, "default"}
			}
			if name != "" && !ok {
				named[name] = dv
			}
			p.shape[j] = dv.v
			p.dims = append(p.dims, DimReport{Input: in.Name, Axis: j, Param: name, Value: dv.v, Source: dv.src})
		}
		plans = append(plans, p)
	}
	return plans, named, nil
}
