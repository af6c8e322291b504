package calibrate

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// LM is how a model predicts the ids it reads: an integer ids input
// [batch, seq] whose values index a table of V rows, and an output
// [batch, seq, V] of scores over those rows; the other inputs are fed by
// their roles from the ids' shape.
type LM struct {
	Table  string
	V      int64
	IDs    string
	IDElem model.DataType
	Output string
	// Extra are the other inputs, fed by their role (roles.Generate): an
	// attention mask of ones, position ids, token types of zeros, an
	// empty past cache, use_cache_branch false.
	Extra []roles.Input
	// Cache, when the model has a key/value cache a step can feed back,
	// makes sampling run one token a step; nil: every step runs the
	// whole prefix with an empty past.
	Cache *Cache
	// Batch and SeqLen are the ids input's fixed sizes (0: dynamic): a
	// model exported without dynamic axes is sampled a sequence at a time
	// (a batch fixed at 1), its prefixes padded to SeqLen (see Sample).
	Batch, SeqLen int64
	roles         *roles.Roles
}

// fedByRole are the roles of inputs sampling can feed besides the ids.
var fedByRole = []roles.Kind{roles.Mask, roles.Positions, roles.TokenTypes, roles.Past, roles.UseCache}

// FindLM finds how m predicts the ids of a table (the largest one when
// table is ""), or says in one line why it cannot be sampled from.
func FindLM(m *model.Model, table string) (*LM, error) {
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	if len(inv.Tables) == 0 {
		return nil, fmt.Errorf("%s: no embedding table: %w", m.Path, onnxrewrite.ErrNotFound)
	}
	tb := &inv.Tables[0]
	if table != "" {
		if tb, err = inv.Table(table); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
	}
	r, err := roles.Detect(m)
	if err != nil {
		return nil, err
	}
	lm := &LM{Table: tb.Name, V: tb.Shape[0], roles: r}
	for _, in := range r.Inputs {
		if lm.IDs == "" && in.Kind == roles.IDs && len(in.Shape) == 2 && feedsGather(m, tb, in.Name) {
			lm.IDs, lm.IDElem = in.Name, in.Elem
			lm.Batch, lm.SeqLen = max(in.Shape[0], 0), max(in.Shape[1], 0)
		}
	}
	if lm.IDs == "" {
		return nil, fmt.Errorf("%s: cannot sample from the model: no integer input [batch, seq] is the ids of table %q", m.Path, tb.Name)
	}
	for _, in := range r.Inputs {
		if in.Name == lm.IDs {
			continue
		}
		if !slices.Contains(fedByRole, in.Kind) {
			return nil, fmt.Errorf("%s: cannot sample from the model: input %q %s%s is %s, which sampling cannot feed (only the ids, an attention mask, position ids, token types, a past cache, fed empty, and use_cache_branch)",
				m.Path, in.Name, model.DTypeName(in.Elem), model.DimsString(in.Shape, in.DimParams), in.Kind)
		}
		lm.Extra = append(lm.Extra, in)
	}
	for _, o := range m.Proto.Graph.Output {
		tt := o.GetType().GetTensorType()
		dims := tt.GetShape().GetDim()
		if len(dims) != 3 || model.IsInteger(model.DataType(tt.GetElemType())) {
			continue
		}
		last := dims[2]
		if _, fixed := last.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); fixed && last.GetDimValue() != lm.V {
			continue
		}
		if lm.Output == "" || strings.Contains(strings.ToLower(o.Name), "logits") {
			lm.Output = o.Name
		}
	}
	if lm.Output == "" {
		return nil, fmt.Errorf("%s: cannot sample from the model: no float output [batch, seq, %d] scores the rows of table %q", m.Path, lm.V, tb.Name)
	}
	lm.Cache = findCache(m, lm)
	switch {
	case lm.Batch > 1:
		return nil, fmt.Errorf("%s: cannot sample from the model: input %q has its batch fixed at %d; sampling runs a batch of any size, or one sequence at a time where it is fixed at 1", m.Path, lm.IDs, lm.Batch)
	case lm.Cache != nil && (lm.Batch > 0 || lm.SeqLen > 0):
		return nil, fmt.Errorf("%s: cannot sample from the model: input %q has a fixed size and a key/value cache; sampling with a cache needs its batch and sequence dynamic", m.Path, lm.IDs)
	}
	return lm, nil
}

// feedsGather says whether a Gather of the table reads the input, directly
// or through Casts, Identities, Reshapes, Squeezes or Unsqueezes.
func feedsGather(m *model.Model, tb *onnxrewrite.Table, input string) bool {
	producer := map[string]*onnxpb.NodeProto{}
	for _, n := range m.Proto.Graph.Node {
		for _, o := range n.Output {
			producer[o] = n
		}
	}
	sites, err := onnxrewrite.IDSites(m, &onnxrewrite.Inventory{Tables: []onnxrewrite.Table{*tb}}, nil)
	if err != nil {
		return false
	}
	for _, s := range sites {
		if s.Positions {
			continue // IDs are what the positions count along
		}
		v := s.IDs
		for step := 0; step < 8 && v != ""; step++ {
			if v == input {
				return true
			}
			p := producer[v]
			if p == nil || len(p.Input) == 0 {
				break
			}
			switch p.OpType {
			case "Cast", "Identity", "Reshape", "Squeeze", "Unsqueeze":
				v = p.Input[0]
			default:
				v = ""
			}
		}
	}
	return false
}

// BOSKeys are the metadata keys InferBOS reads, in order.
var BOSKeys = []string{"bos_token_id", "bos_id", "decoder_start_token_id"}

// DefaultBOS is the start token when the model's metadata names none: 1,
// the BOS of Llama's SentencePiece vocabularies (0 unk, 1 bos, 2 eos),
// which llama2.c's TinyStories models (stories260K) use too.
const DefaultBOS = 1

// InferBOS returns the start token from the model's metadata (BOSKeys),
// else DefaultBOS, with where it came from; an unreadable or out-of-range
// value is an error asking for --bos.
func InferBOS(m *model.Model, v int64) (int64, string, error) {
	for _, key := range BOSKeys {
		for _, p := range m.Proto.GetMetadataProps() {
			if p.Key != key {
				continue
			}
			id, err := strconv.ParseInt(strings.TrimSpace(p.Value), 10, 64)
			if err != nil || id < 0 || id >= v {
				return 0, "", fmt.Errorf("%s: cannot infer the start token: metadata %s=%q is no id in [0, %d); give --bos", m.Path, key, p.Value, v)
			}
			return id, "metadata " + key, nil
		}
	}
	if v <= DefaultBOS {
		return 0, "", fmt.Errorf("%s: cannot infer the start token: no %s in the model's metadata and the vocabulary has %d rows; give --bos", m.Path, BOSKeys[0], v)
	}
	return DefaultBOS, fmt.Sprintf("no %s in the model's metadata: %d, Llama/SentencePiece's BOS (give --bos to change)", BOSKeys[0], DefaultBOS), nil
}

// Feed builds the model's inputs for rows of ids [n, t]: the ids, and the
// other inputs made by their roles.
func (lm *LM) Feed(ids []int64, n, t int) (map[string]ort.HostTensor, error) {
	idsT, err := roles.FromInt64s(lm.IDElem, []int64{int64(n), int64(t)}, ids)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", lm.IDs, err)
	}
	feed := map[string]ort.HostTensor{lm.IDs: idsT}
	if len(lm.Extra) == 0 {
		return feed, nil
	}
	p, err := lm.roles.Plan(feed, roles.Sizes{Batch: int64(n)})
	if err != nil {
		return nil, err
	}
	made, err := lm.roles.Generate(p, feed, rand.New(rand.NewPCG(0, 0)))
	if err != nil {
		return nil, err
	}
	for name, v := range made {
		feed[name] = v.Tensor
	}
	return feed, nil
}
