package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"
)

// preTokenizer splits normalized pieces into the words the model sees.
type preTokenizer interface {
	split(p piece, out []piece) []piece
}

type preSeq []preTokenizer

func (q preSeq) split(p piece, out []piece) []piece {
	cur := []piece{p}
	for _, t := range q {
		var next []piece
		for _, c := range cur {
			next = t.split(c, next)
		}
		cur = next
	}
	return append(out, cur...)
}

// noPre keeps a piece whole (a file with no pre-tokenizer).
type noPre struct{}

func (noPre) split(p piece, out []piece) []piece { return append(out, p) }

// predSplit splits on each character a predicate accepts.
type predSplit struct {
	pred func(rune) bool
	b    behavior
}

func (t predSplit) split(p piece, out []piece) []piece {
	return append(out, t.b.apply(p, segments(p.s, charMatches(p.s, t.pred), false))...)
}

// patternSplit is the Split pre-tokenizer.
type patternSplit struct {
	m      *matcher
	b      behavior
	invert bool
}

func (t patternSplit) split(p piece, out []piece) []piece {
	return append(out, t.b.apply(p, segments(p.s, t.m.find(p.s), t.invert))...)
}

type preConfig struct {
	PreTokenizers    []json.RawMessage `json:"pretokenizers"`
	Pattern          pattern           `json:"pattern"`
	Behavior         string            `json:"behavior"`
	Invert           bool              `json:"invert"`
	IndividualDigits bool              `json:"individual_digits"`
	Delimiter        string            `json:"delimiter"`
	AddPrefixSpace   *bool             `json:"add_prefix_space"`
	UseRegex         *bool             `json:"use_regex"`
	Replacement      string            `json:"replacement"`
	PrependScheme    string            `json:"prepend_scheme"`
	Split            *bool             `json:"split"`
}

// parsePreTokenizer builds the pre-tokenizer a tokenizer.json declares.
func parsePreTokenizer(raw json.RawMessage) (preTokenizer, error) {
	if isNull(raw) {
		return noPre{}, nil
	}
	typ, err := typeOf(raw, "pre_tokenizer")
	if err != nil {
		return nil, err
	}
	var c preConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("pre_tokenizer %s: %w", typ, err)
	}
	switch typ {
	case "Sequence":
		var q preSeq
		for _, r := range c.PreTokenizers {
			t, err := parsePreTokenizer(r)
			if err != nil {
				return nil, err
			}
			q = append(q, t)
		}
		return q, nil
	case "BertPreTokenizer":
		return preSeq{predSplit{unicode.IsSpace, removed}, predSplit{isPunct, isolated}}, nil
	case "WhitespaceSplit":
		return predSplit{unicode.IsSpace, removed}, nil
	case "Whitespace":
		return whitespace{}, nil
	case "Punctuation":
		b, err := parseBehavior(c.Behavior)
		return predSplit{isPunct, b}, err
	case "Digits":
		if c.IndividualDigits {
			return predSplit{unicode.IsNumber, isolated}, nil
		}
		return predSplit{unicode.IsNumber, contiguous}, nil
	case "CharDelimiterSplit":
		d := []rune(c.Delimiter)
		if len(d) != 1 {
			return nil, fmt.Errorf("pre_tokenizer CharDelimiterSplit: delimiter %q is not one character", c.Delimiter)
		}
		return predSplit{func(r rune) bool { return r == d[0] }, removed}, nil
	case "Split":
		return newPatternSplit(c)
	case "ByteLevel":
		return newByteLevelPre(c)
	case "Metaspace":
		return newMetaspace(c)
	}
	return nil, unsupported("pre_tokenizer", typ)
}

func newPatternSplit(c preConfig) (preTokenizer, error) {
	m, err := c.Pattern.compile()
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
	}
	b, err := parseBehavior(c.Behavior)
	if err != nil {
		return nil, fmt.Errorf("pre_tokenizer Split: %w", err)
	}
	return patternSplit{m, b, c.Invert}, nil
}

// whitespace is the Whitespace pre-tokenizer, \w+|[^\w\s]+: runs of word
// characters and runs of other non-space characters; spaces dropped.
type whitespace struct{}

func isWordChar(r rune) bool {
	if r < 0x80 {
		return r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z'
	}
	return unicode.In(r, unicode.L, unicode.M, unicode.Nd, unicode.Pc)
}

func (whitespace) split(p piece, out []piece) []piece {
	start, class := 0, 0 // class: 0 space, 1 word, 2 other
	for i, r := range p.s {
		c := 2
		if isWordChar(r) {
			c = 1
		} else if unicode.IsSpace(r) {
			c = 0
		}
		if c != class {
			if class != 0 && i > start {
				out = append(out, piece{p.s[start:i], p.first && start == 0})
			}
			start, class = i, c
		}
	}
	if class != 0 && len(p.s) > start {
		out = append(out, piece{p.s[start:], p.first && start == 0})
	}
	return out
}

// metaspace is the Metaspace pre-tokenizer of SentencePiece-style models:
// spaces become the replacement character (▁), which is also prepended as
// the scheme says, and words split before each replacement.
type metaspace struct {
	rep    string
	scheme string // always, first, never
	splits bool
}

func newMetaspace(c preConfig) (preTokenizer, error) {
	m := metaspace{rep: c.Replacement, scheme: c.PrependScheme, splits: c.Split == nil || *c.Split}
	if m.rep == "" {
		m.rep = "▁"
	}
	if m.scheme == "" {
		// Files older than prepend_scheme say add_prefix_space.
		m.scheme = "always"
		if c.AddPrefixSpace != nil && !*c.AddPrefixSpace {
			m.scheme = "never"
		}
	}
	switch m.scheme {
	case "always", "first", "never":
	default:
		return nil, fmt.Errorf("pre_tokenizer Metaspace: prepend_scheme %q is not supported", m.scheme)
	}
	return m, nil
}

func (m metaspace) split(p piece, out []piece) []piece {
	s := strings.ReplaceAll(p.s, " ", m.rep)
	if !strings.HasPrefix(s, m.rep) && (m.scheme == "always" || m.scheme == "first" && p.first) {
		s = m.rep + s
	}
	q := piece{s, p.first}
	if !m.splits {
		return append(out, q)
	}
	return append(out, mergedWithNext.apply(q, segments(s, findLiteral(s, m.rep), false))...)
}
