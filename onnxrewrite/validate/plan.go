package validate

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// MaxGeneratedBytes bounds the inputs validate generates, and the outputs
// they make whose size follows from them, for each model: a --samples
// that would take more is refused before anything is allocated.
const MaxGeneratedBytes = 512 << 20

// makeInputs checks the given inputs, plans the generated inputs' shapes
// by their roles, refuses a plan over MaxGeneratedBytes, generates the
// values and then fills in rep.Inputs and rep.Dims.
func makeInputs(file string, r *roles.Roles, infos, outputs []ort.IOInfo, opts CompareOptions, rep *CompareReport) (map[string]ort.HostTensor, *roles.Plan, error) {
	if err := checkGiven(file, r, infos, opts); err != nil {
		return nil, nil, err
	}
	samples := int64(opts.Samples)
	if samples == 0 {
		samples = DefaultSamples
	}
	plan, err := r.Plan(opts.Inputs, roles.Sizes{Batch: samples, Dims: opts.Dims})
	if err != nil {
		return nil, nil, err
	}
	if err := checkBudget(file, infos, plan, outputs); err != nil {
		return nil, nil, err
	}
	made, err := r.Generate(plan, opts.Inputs, rand.New(rand.NewPCG(opts.Seed, 0x656d6273687269)))
	if err != nil {
		return nil, nil, err
	}
	out := map[string]ort.HostTensor{}
	for _, in := range infos {
		role, _ := r.Get(in.Name)
		if t, ok := opts.Inputs[in.Name]; ok {
			out[in.Name] = t
			rep.Inputs = append(rep.Inputs, givenReport(in, role, t))
			continue
		}
		v, ok := made[in.Name]
		if !ok {
			return nil, nil, fmt.Errorf("%s: input %q: no values given or generated", file, in.Name)
		}
		out[in.Name] = v.Tensor
		rep.Inputs = append(rep.Inputs, InputReport{Name: in.Name, DType: model.DTypeName(in.Elem), Shape: v.Tensor.Shape,
			Source: "generated", Role: role.Kind.String(), Values: v.Values, IDRange: v.IDRange, Table: v.Table, NotRealData: v.NotReal})
		if v.NotReal {
			rep.NotRealInputs = append(rep.NotRealInputs, in.Name)
		}
	}
	rep.Dims = append(rep.Dims, plan.Dims...)
	return out, plan, nil
}

// checkGiven checks given inputs and set dimensions against the model. A
// dimension may be set to 0 only where a past cache's length is: an empty
// past is how generation starts.
func checkGiven(file string, r *roles.Roles, infos []ort.IOInfo, opts CompareOptions) error {
	byName := map[string]ort.IOInfo{}
	params, past := map[string]bool{}, map[string]bool{}
	for _, in := range infos {
		byName[in.Name] = in
		role, _ := r.Get(in.Name)
		for j, p := range in.DimParams {
			if p != "" && in.Shape[j] < 0 {
				params[p] = true
				past[p] = past[p] || role.Kind == roles.Past && j == role.PastAxis
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
		role, _ := r.Get(name)
		bad := len(t.Shape) != len(in.Shape)
		for j, d := range in.Shape {
			bad = bad || (d >= 0 && t.Shape[j] != d && !r.AnyRows(role, j))
		}
		if bad {
			return fmt.Errorf("%s: given input %q has shape %v, the model wants %s", file, name, t.Shape, model.DimsString(in.Shape, in.DimParams))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(opts.Dims)) {
		if !params[p] {
			return fmt.Errorf("%s: no input has a dynamic dimension named %q; the inputs are %s", file, p, ioStrings(infos))
		}
		switch v := opts.Dims[p]; {
		case v == 0 && past[p]:
		case v == 0:
			return fmt.Errorf("%s: dimension %q = 0: only a past cache's length may be 0; want a positive size", file, p)
		case v < 0:
			return fmt.Errorf("%s: dimension %q = %d: want a positive size", file, p, v)
		}
	}
	return nil
}
