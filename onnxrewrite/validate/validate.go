package validate

// This file runs two models (an original and its rewrite) on the same
// inputs in ONNX ort.Runtime and compares their outputs (CompareModels).

import (
	"fmt"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Defaults of CompareOptions.
const (
	DefaultSamples      = 64
	DefaultDynamicDim   = roles.DefaultDynamicDim
	DefaultRTol         = 1e-3
	DefaultATol         = 1e-4
	DefaultMinAgreement = 0.99
	DefaultMinCosine    = 0.99
)

// DefaultCompareOptions is the gate validate uses when no flag says
// otherwise: DefaultRTol, DefaultATol, DefaultMinAgreement,
// DefaultMinCosine, and DefaultSamples generated samples.
func DefaultCompareOptions() CompareOptions {
	return CompareOptions{RTol: DefaultRTol, ATol: DefaultATol, MinAgreement: DefaultMinAgreement,
		MinCosine: DefaultMinCosine, Samples: DefaultSamples}
}

// CompareOptions controls CompareModels. Its values are taken as they are;
// DefaultCompareOptions gives the defaults. A zero Samples, which could
// mean nothing else, is DefaultSamples.
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
	// Roles are the original's input roles, which decide how inputs are
	// generated (roles.Generate); nil: CompareModels detects them.
	Roles *roles.Roles
	// RTol and ATol are the numeric tolerance: an output is within it when
	// max|a-b| <= ATol + RTol*max|b| over its elements, b the original's
	// and a the rewrite's; 0 and 0 ask for equality.
	RTol, ATol float64
	// MinAgreement is the share of decisions that must agree for a
	// classifier-like output to pass outside the numeric tolerance; a
	// negative value turns this decision gate off, so that only the
	// numeric tolerance counts. Above 1 is an error.
	MinAgreement float64
	// MinCosine is the cosine similarity an output must also reach to pass
	// on its decisions: argmax over hidden states can agree while the
	// values are far apart (a few dimensions of huge magnitude win every
	// time). A negative value: no floor.
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
	// Role is what the input holds (roles.Kind): "ids", "attention
	// mask", ..., "other".
	Role string `json:"role"`
	// NotRealData says the input was generated with no role to go by
	// (normal noise, coin flips): a result on it says little of real data.
	NotRealData bool `json:"not_real_data,omitempty"`
}

// DimReport says what value a dynamic dimension of a generated input took
// and why (roles.Dim.Source).
type DimReport = roles.Dim

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
	// both are zero). For a scalar (or one-element) output it is only the
	// sign agreement, 1, -1 or 0 (one value zero); such an output makes no
	// decisions, so the tolerance alone gates it.
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
	// KL is, for argmax decisions, the mean over rows of KL(original ||
	// rewritten) of the last axis taken as probabilities (when every row
	// of the original is non-negative and sums to 1) or as logits
	// (softmax). It is reported, not gated.
	KL *float64 `json:"kl,omitempty"`
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
	// NotRealInputs name the inputs generated with no role to go by: the
	// result stands on made-up values for them.
	NotRealInputs []string `json:"not_real_inputs,omitempty"`
	// Pass says every output passes.
	Pass bool `json:"pass"`
}

// CompareModels runs the original model and its rewrite on the same inputs
// in ONNX ort.Runtime and compares every output.
//
// Inputs not given in opts are generated by their role, deterministically
// for opts.Seed (roles.Generate): ids uniform over the rows of the table
// they index, position ids 0..n-1, masks of ones, token types of zeros, bag
// offsets partitioning their ids, an empty past cache, use_cache_branch
// false; an input no role describes gets standard normal floats, coin
// flips or ids of the smallest table, and the report marks it not real
// data. A model whose batch is fixed at 1 runs Samples generated samples
// one at a time.
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
	r := opts.Roles
	if r == nil {
		m, err := model.Load(original)
		if err != nil {
			return nil, err
		}
		if r, err = roles.Detect(m); err != nil {
			return nil, err
		}
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
	inputs, plan, err := makeInputs(original, r, so.Inputs(), so.Outputs(), opts, rep)
	if err != nil {
		return nil, err
	}
	run := chunking{batch: -1, chunk: -1, major: plan.BatchMajor}
	switch {
	case plan.OneByOne:
		run.batch, run.chunk = plan.Batch, 1
	case len(opts.Inputs) == 0 && len(inputs) > 0 && plan.Divisible:
		// Generated inputs only: run them in chunks of bounded memory.
		if run.batch = batchOf(inputs, run.major); run.batch > 0 {
			run.chunk = chunkSize(run.batch, ioBytes(inputs, so.Outputs(), run.batch))
		}
	}
	outO, err := run.run(so, inputs)
	if err != nil {
		return nil, fmt.Errorf("running the original: %w", err)
	}
	outR, err := run.run(sr, inputs)
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
