package tokenizer

import (
	"encoding/json"
	"fmt"
)

// postProcessor adds the special tokens around an encoded sequence and
// gives each id its token type.
type postProcessor interface {
	process(e Encoding) Encoding
}

// template is a list of special tokens and the sequence, each with a type.
type template struct {
	items []templateItem
}

type templateItem struct {
	ids      []int // nil: the sequence
	typeID   int
	sequence bool
}

func (t template) process(e Encoding) Encoding {
	var out Encoding
	for _, it := range t.items {
		if it.sequence {
			out.IDs = append(out.IDs, e.IDs...)
			for range e.IDs {
				out.TypeIDs = append(out.TypeIDs, it.typeID)
			}
			continue
		}
		out.IDs = append(out.IDs, it.ids...)
		for range it.ids {
			out.TypeIDs = append(out.TypeIDs, it.typeID)
		}
	}
	out.HasTypes = true
	return out
}

type postSeq []postProcessor

func (q postSeq) process(e Encoding) Encoding {
	for _, p := range q {
		e = p.process(e)
	}
	return e
}

// keepIDs is a post-processor that changes no id (ByteLevel's trims offsets).
type keepIDs struct{}

func (keepIDs) process(e Encoding) Encoding { return e }

type postConfig struct {
	Processors    []json.RawMessage `json:"processors"`
	Single        []json.RawMessage `json:"single"`
	SpecialTokens map[string]struct {
		IDs []int `json:"ids"`
	} `json:"special_tokens"`
	Sep []json.RawMessage `json:"sep"`
	Cls []json.RawMessage `json:"cls"`
}

// parsePostProcessor builds the post-processor a tokenizer.json declares.
func parsePostProcessor(raw json.RawMessage) (postProcessor, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, "post_processor")
	if err != nil {
		return nil, err
	}
	var c postConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("post_processor %s: %w", typ, err)
	}
	switch typ {
	case "Sequence":
		var q postSeq
		for _, r := range c.Processors {
			p, err := parsePostProcessor(r)
			if err != nil {
				return nil, err
			}
			if p != nil {
				q = append(q, p)
			}
		}
		return q, nil
	case "ByteLevel":
		return keepIDs{}, nil
	case "TemplateProcessing":
		return parseTemplate(c)
	case "BertProcessing", "RobertaProcessing":
		cls, err := tokenPair(c.Cls, typ, "cls")
		if err != nil {
			return nil, err
		}
		sep, err := tokenPair(c.Sep, typ, "sep")
		if err != nil {
			return nil, err
		}
		return template{[]templateItem{{ids: []int{cls}}, {sequence: true}, {ids: []int{sep}}}}, nil
	}
	return nil, unsupported("post_processor", typ)
}

// tokenPair reads a ["[CLS]", 101] pair and returns its id.
func tokenPair(raw []json.RawMessage, typ, field string) (int, error) {
	var id int
	if len(raw) != 2 || json.Unmarshal(raw[1], &id) != nil {
		return 0, fmt.Errorf("post_processor %s: %s is not a [token, id] pair", typ, field)
	}
	return id, nil
}

func parseTemplate(c postConfig) (postProcessor, error) {
	var t template
	for i, raw := range c.Single {
		var it struct {
			SpecialToken *struct {
				ID     string `json:"id"`
				TypeID int    `json:"type_id"`
			}
			Sequence *struct {
				ID     string `json:"id"`
				TypeID int    `json:"type_id"`
			}
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d]: %w", i, err)
		}
		switch {
		case it.Sequence != nil:
			t.items = append(t.items, templateItem{typeID: it.Sequence.TypeID, sequence: true})
		case it.SpecialToken != nil:
			st, ok := c.SpecialTokens[it.SpecialToken.ID]
			if !ok {
				return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d]: special token %q is not in special_tokens", i, it.SpecialToken.ID)
			}
			t.items = append(t.items, templateItem{ids: st.IDs, typeID: it.SpecialToken.TypeID})
		default:
			return nil, fmt.Errorf("post_processor TemplateProcessing: single[%d] is neither SpecialToken nor Sequence", i)
		}
	}
	return t, nil
}
