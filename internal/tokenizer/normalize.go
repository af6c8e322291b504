package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// normalizer rewrites a piece of text before it is split into words.
type normalizer interface {
	normalize(s string) string
}

type normSeq []normalizer

func (q normSeq) normalize(s string) string {
	for _, n := range q {
		s = n.normalize(s)
	}
	return s
}

type normFunc func(string) string

func (f normFunc) normalize(s string) string { return f(s) }

// parseNormalizer builds the normalizer a tokenizer.json declares (nil for none).
func parseNormalizer(raw json.RawMessage) (normalizer, error) {
	if isNull(raw) {
		return nil, nil
	}
	typ, err := typeOf(raw, "normalizer")
	if err != nil {
		return nil, err
	}
	var c struct {
		Normalizers         []json.RawMessage `json:"normalizers"`
		Lowercase           *bool             `json:"lowercase"`
		CleanText           *bool             `json:"clean_text"`
		HandleChineseChars  *bool             `json:"handle_chinese_chars"`
		StripAccents        *bool             `json:"strip_accents"`
		StripLeft           bool              `json:"strip_left"`
		StripRight          bool              `json:"strip_right"`
		Prepend             string            `json:"prepend"`
		Pattern             pattern           `json:"pattern"`
		Content             string            `json:"content"`
		PrecompiledCharsmap *string           `json:"precompiled_charsmap"`
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("normalizer %s: %w", typ, err)
	}
	switch typ {
	case "Sequence":
		var q normSeq
		for _, r := range c.Normalizers {
			n, err := parseNormalizer(r)
			if err != nil {
				return nil, err
			}
			if n != nil {
				q = append(q, n)
			}
		}
		return q, nil
	case "NFC":
		return unicodeForm(norm.NFC), nil
	case "NFD":
		return unicodeForm(norm.NFD), nil
	case "NFKC":
		return unicodeForm(norm.NFKC), nil
	case "NFKD":
		return unicodeForm(norm.NFKD), nil
	case "Lowercase":
		return normFunc(lowercase), nil
	case "StripAccents":
		return normFunc(stripMarks), nil
	case "Strip":
		return strip{c.StripLeft, c.StripRight}, nil
	case "Prepend":
		p := c.Prepend
		return normFunc(func(s string) string {
			if s == "" {
				return s
			}
			return p + s
		}), nil
	case "Replace":
		re, err := c.Pattern.compile()
		if err != nil {
			return nil, fmt.Errorf("normalizer Replace: %w", err)
		}
		return replace{re, c.Content}, nil
	case "BertNormalizer":
		return newBertNormalizer(c.CleanText, c.HandleChineseChars, c.StripAccents, c.Lowercase), nil
	case "Nmt":
		return normFunc(nmt), nil
	case "ByteLevel":
		return normFunc(toByteChars), nil
	case "Precompiled":
		if c.PrecompiledCharsmap == nil {
			return nil, fmt.Errorf("normalizer Precompiled: no precompiled_charsmap")
		}
		return newPrecompiled(*c.PrecompiledCharsmap)
	}
	return nil, unsupported("normalizer", typ)
}

// cgj is U+034F COMBINING GRAPHEME JOINER.
const cgj = "\u034f"

// unicodeForm is a Unicode normalization form as the tokenizers library
// applies it. x/text writes the Stream-Safe Text Format, which puts a CGJ
// after every 30 combining marks in a row; Rust's unicode-normalization
// does not, so those joiners are taken out again (measured: a line of 40
// Thai tone marks gave one token more than the references).
func unicodeForm(f norm.Form) normalizer {
	return normFunc(func(s string) string {
		out := f.String(s)
		if strings.Contains(out, cgj) && !strings.Contains(s, cgj) {
			out = strings.ReplaceAll(out, cgj, "")
		}
		return out
	})
}

// lowercase maps each character to its lower case as Rust's
// char::to_lowercase does: İ (U+0130) becomes "i̇", and Σ is σ everywhere
// (the tokenizers library lowercases character by character, so no final ς).
func lowercase(s string) string {
	if !strings.ContainsRune(s, 'İ') {
		return strings.ToLower(s)
	}
	var b strings.Builder
	for _, r := range s {
		if r == 'İ' {
			b.WriteString("i\u0307")
			continue
		}
		b.WriteRune(unicode.ToLower(r))
	}
	return b.String()
}

// stripMarks removes combining marks (general category M), as the
// StripAccents normalizer does; it is meant to follow NFD or NFKD.
func stripMarks(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.Is(unicode.M, r) {
			return -1
		}
		return r
	}, s)
}

type strip struct{ left, right bool }

func (p strip) normalize(s string) string {
	if p.left {
		s = strings.TrimLeftFunc(s, unicode.IsSpace)
	}
	if p.right {
		s = strings.TrimRightFunc(s, unicode.IsSpace)
	}
	return s
}

type replace struct {
	re      *matcher
	content string
}

func (p replace) normalize(s string) string { return p.re.replaceAll(s, p.content) }

// nmt is the NMT normalizer: some control characters removed, some
// spaces and separators made a plain space.
func nmt(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 0x1 && r <= 0x8, r == 0xB, r >= 0xE && r <= 0x1F, r == 0x7F, r == 0x8F, r == 0x9F:
			return -1
		case r == 0x9, r == 0xA, r == 0xC, r == 0xD, r == 0x1680, r >= 0x200B && r <= 0x200F,
			r == 0x2028, r == 0x2029, r == 0x2581, r == 0xFEFF, r == 0xFFFD:
			return ' '
		}
		return r
	}, s)
}
