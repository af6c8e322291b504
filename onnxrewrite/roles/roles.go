// Package roles says what each graph input of a model holds (the ids of
// an embedding table, position ids, an attention mask, token types, the
// offsets of an EmbeddingBag, a past key/value cache, a merged decoder's
// use_cache_branch), deciding from the graph with names as hints, and
// makes values for the inputs a caller does not give: validate's generated
// inputs, the inputs calibration lacks, a sampled language model's feed.
// It is pure Go and runs nothing.
package roles

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// Kind is what an input holds.
type Kind int

// The kinds of input.
const (
	// Other is an input no role describes: its values can only be made up.
	Other Kind = iota
	// IDs index the rows of an embedding table.
	IDs
	// Positions are position ids, 0..seq-1 along each row.
	Positions
	// Mask is an attention mask: 1 for a token, 0 for padding.
	Mask
	// TokenTypes are token type (segment) ids.
	TokenTypes
	// Offsets are where each bag of an EmbeddingBag starts in its ids.
	Offsets
	// Past is a past key or value cache [batch, heads, past, dim].
	Past
	// UseCache is a merged decoder's use_cache_branch flag.
	UseCache
)

var kindNames = [...]string{"other", "ids", "position ids", "attention mask", "token types", "bag offsets", "past key/values", "use_cache_branch"}

func (k Kind) String() string {
	if k < 0 || int(k) >= len(kindNames) {
		return "kind(" + strconv.Itoa(int(k)) + ")"
	}
	return kindNames[k]
}

// Index says whether the input's values index something (a table's rows,
// ids), so that they must be integers.
func (k Kind) Index() bool { return k == IDs || k == Positions || k == TokenTypes || k == Offsets }

// Input is a graph input and its role.
type Input struct {
	model.Input
	Kind Kind
	// Table and Rows are the table the input's values index (ids,
	// position ids, token types), the smallest when several; "" when none.
	Table string
	Rows  int64
	// With is the ids input a mask, position ids, token types or bag
	// offsets go with; "" when the model has none.
	With string
	// PastAxis is the axis of a past cache's length (Past).
	PastAxis int
	// Why says what decided the role.
	Why string
}

// Roles are the roles of a model's graph inputs.
type Roles struct {
	// Path is the model file, for messages.
	Path string
	// Inputs are the main graph's inputs, in their order.
	Inputs []Input
	// Pad is the padding id from the model's metadata (PadKeys); -1 when
	// it names none.
	Pad int64
	// MaxPositions is the rows of the smallest table named like a position
	// table (position, wpe, pos) the model gathers: the longest sequence it
	// takes when it computes positions itself; 0 when it has none.
	MaxPositions int64
	// fallback is the smallest table, the range of integers no table
	// reads: Rows 0 when the model has no table.
	fallback tableRef
}

// PadKeys are the metadata keys Detect reads the padding id from.
var PadKeys = []string{"pad_token_id", "pad_id"}

// tableRef is a table an input's values index; positions says every
// table they index is named like a position table.
type tableRef struct {
	name      string
	rows      int64
	positions bool
}

// Get returns the named input's role.
func (r *Roles) Get(name string) (Input, bool) {
	for _, in := range r.Inputs {
		if in.Name == name {
			return in, true
		}
	}
	return Input{}, false
}

// Detect finds the role of every graph input of m.
//
// From the graph: ids are inputs whose values reach the indices of a
// table's embedding Gather (FindTables) through ops that carry them
// unchanged (Cast, Reshape, Squeeze, Unsqueeze, Flatten, Identity,
// Transpose, Expand, Tile, Concat, and the data input of Slice and
// Gather), also inside If and Loop bodies, and that table's rows are their
// range; integer inputs the indices are computed from (ids plus an
// offset) are ids of no known range; bag offsets are integer inputs
// that so reach the starts or ends of a Slice of ids (how torch exports
// EmbeddingBag: a Loop over the bags slicing the ids between offsets).
// From names, as hints on top: position ids (position_ids, pos, or ids of
// a table named like a position table), token types (token_type_ids,
// segment), an attention mask (any name with "mask", any dtype), a past
// cache (a rank-4 float input named past*, with a dynamic past length),
// use_cache_branch (a bool of one element named use_cache*).
func Detect(m *model.Model) (*Roles, error) {
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	sites, err := onnxrewrite.IDSites(m, inv, nil)
	if err != nil {
		return nil, err
	}
	r := &Roles{Path: m.Path, Pad: -1}
	for _, tb := range inv.Tables {
		if r.fallback.rows == 0 || tb.Shape[0] < r.fallback.rows {
			r.fallback = tableRef{name: tb.Name, rows: tb.Shape[0]}
		}
		if positionName(strings.ToLower(tb.Name)) && (r.MaxPositions == 0 || tb.Shape[0] < r.MaxPositions) {
			r.MaxPositions = tb.Shape[0]
		}
	}
	ix := indexGraph(m)
	reach := map[string]tableRef{}
	offsets := map[string]string{}
	computed := map[string]bool{}
	for _, s := range sites {
		for _, in := range ix.sources(s.Indices, true, nil) {
			computed[in] = true
		}
		var cuts []*onnxpb.NodeProto
		ids := ix.sources(s.Indices, false, func(n *onnxpb.NodeProto) { cuts = append(cuts, n) })
		for _, in := range ids {
			old, ok := reach[in]
			if !ok || s.Rows < old.rows {
				reach[in] = tableRef{s.Table, s.Rows, (!ok || old.positions) && positionName(strings.ToLower(s.Table))}
			} else if !positionName(strings.ToLower(s.Table)) {
				old.positions = false
				reach[in] = old
			}
		}
		for _, sl := range cuts {
			for _, off := range ix.sliceBounds(sl, func(v string) bool { _, isID := reach[v]; return isID }) {
				if _, ok := offsets[off]; !ok && len(ids) > 0 {
					offsets[off] = ids[0]
				}
			}
		}
	}
	for _, in := range model.Inputs(m) {
		r.Inputs = append(r.Inputs, classify(in, reach, offsets, computed[in.Name]))
	}
	r.pairWithIDs()
	if r.Pad, err = padID(m); err != nil {
		return nil, err
	}
	return r, nil
}

// classify gives one input its role.
// computed says the input's values reach a table's Gather through
// arithmetic (ids plus an offset): ids, of a range the graph computes.
func classify(in model.Input, reach map[string]tableRef, offsets map[string]string, computed bool) Input {
	out := Input{Input: in}
	name := strings.ToLower(in.Name)
	tb, isID := reach[in.Name]
	intInput := model.IsInteger(in.Elem)
	set := func(k Kind, why string) Input {
		out.Kind, out.Why = k, why
		if isID && k.Index() {
			out.Table, out.Rows = tb.name, tb.rows
		}
		return out
	}
	switch {
	case in.Elem == onnxpb.TensorProto_BOOL && strings.Contains(name, "use_cache") && oneElement(in):
		return set(UseCache, "a bool of one element named use_cache*")
	case isFloat(in.Elem) && len(in.Shape) == 4 && pastName(name):
		if axis := pastAxis(in); axis >= 0 {
			out.PastAxis = axis
			return set(Past, fmt.Sprintf("a rank-4 float input named past*, past length on axis %d", axis))
		}
	case intInput && offsets[in.Name] != "" && !isID:
		out.With = offsets[in.Name]
		return set(Offsets, "its values bound the Slices of ids "+offsets[in.Name]+" a table's Gather reads (an EmbeddingBag's offsets)")
	}
	switch {
	case intInput && (strings.Contains(name, "token_type") || strings.Contains(name, "segment")):
		return set(TokenTypes, "named like token types")
	case intInput && positionName(name):
		return set(Positions, "named like position ids")
	case isID && tb.positions:
		return set(Positions, "its values index table "+tb.name+", named like a position table")
	case strings.Contains(name, "mask"):
		return set(Mask, "named like an attention mask")
	case isID && intInput:
		return set(IDs, "its values reach the Gather of table "+tb.name)
	case computed && intInput:
		return set(IDs, "a table's Gather reads ids computed from its values")
	}
	return set(Other, "no role fits")
}

// pairWithIDs sets With of masks, position ids and token types: the ids
// input of their rank whose dimension names they share most, else the
// first ids input.
func (r *Roles) pairWithIDs() {
	for i := range r.Inputs {
		in := &r.Inputs[i]
		if in.Kind != Mask && in.Kind != Positions && in.Kind != TokenTypes {
			continue
		}
		best, bestShared := "", -1
		for _, id := range r.Inputs {
			if id.Kind != IDs {
				continue
			}
			shared := -1
			if len(id.Shape) == len(in.Shape) {
				shared = 0
				for j, p := range in.DimParams {
					if p != "" && j < len(id.DimParams) && id.DimParams[j] == p {
						shared++
					}
				}
			}
			if best == "" || shared > bestShared {
				best, bestShared = id.Name, shared
			}
		}
		in.With = best
	}
}

// padID reads the padding id from the metadata; -1 when there is none.
func padID(m *model.Model) (int64, error) {
	for _, key := range PadKeys {
		for _, p := range m.Proto.GetMetadataProps() {
			if p.Key != key {
				continue
			}
			id, err := strconv.ParseInt(strings.TrimSpace(p.Value), 10, 64)
			if err != nil || id < 0 {
				return 0, fmt.Errorf("%s: metadata %s=%q is no padding id", m.Path, key, p.Value)
			}
			return id, nil
		}
	}
	return -1, nil
}

func isFloat(dt model.DataType) bool {
	return dt == model.Float32 || dt == model.Float64 || dt == model.Float16 || dt == model.BFloat16
}

func oneElement(in model.Input) bool {
	for _, d := range in.Shape {
		if d != 1 {
			return false
		}
	}
	return in.Shape != nil
}

func pastName(name string) bool {
	return strings.HasPrefix(name, "past") || strings.Contains(name, "past_key") || strings.Contains(name, "past_value")
}

// pastAxis is the dynamic axis of a past cache's length: the one whose
// name says past, else axis 2 of [batch, heads, past, dim]; -1 if none.
func pastAxis(in model.Input) int {
	for j, p := range in.DimParams {
		if in.Shape[j] < 0 && strings.Contains(strings.ToLower(p), "past") {
			return j
		}
	}
	if in.Shape[2] < 0 {
		return 2
	}
	return -1
}

// positionName says whether a lower-case name reads as position ids or a
// position table: "position" in it, or a word "pos" (pos, pos_ids), or
// GPT-2's "wpe".
func positionName(name string) bool {
	if strings.Contains(name, "position") || strings.Contains(name, "wpe") {
		return true
	}
	words := strings.FieldsFunc(name, func(c rune) bool { return !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') })
	for _, w := range words {
		if w == "pos" {
			return true
		}
	}
	return false
}
