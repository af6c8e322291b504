package tokenizer

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dlclark/regexp2"
)

// pattern is a Split pre-tokenizer's or a Replace normalizer's pattern:
// {"String": "..."} or {"Regex": "..."}.
type pattern struct {
	String *string `json:"String"`
	Regex  *string `json:"Regex"`
}

func (p pattern) compile() (*matcher, error) {
	switch {
	case p.String != nil:
		return &matcher{literal: *p.String}, nil
	case p.Regex != nil:
		return compileRegex(*p.Regex)
	}
	return nil, fmt.Errorf("pattern has neither String nor Regex")
}

// matcher finds a literal or a regular expression. The tokenizers library
// uses Oniguruma, whose syntax (lookahead, \p{..} classes, (?i:..)) Go's
// regexp lacks; regexp2 has it.
type matcher struct {
	literal string
	re      *regexp2.Regexp
}

func compileRegex(expr string) (*matcher, error) {
	re, err := regexp2.Compile(expr, regexp2.Unicode)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", expr, err)
	}
	// The default MatchTimeout is "forever", which turns time checks off:
	// a timeout would end a match early, at a time that depends on load.
	return &matcher{re: re}, nil
}

// span is a byte range [start, end) of a string.
type span struct{ start, end int }

// find returns the non-empty matches of m in s, left to right, as byte spans.
func (m *matcher) find(s string) []span {
	if m.re == nil {
		return findLiteral(s, m.literal)
	}
	return m.findRegex(s)
}

func findLiteral(s, lit string) []span {
	if lit == "" {
		return nil
	}
	var out []span
	for off := 0; ; {
		i := strings.Index(s[off:], lit)
		if i < 0 {
			return out
		}
		out = append(out, span{off + i, off + i + len(lit)})
		off += i + len(lit)
	}
}

// findRegex runs the expression over the runes of s and converts rune
// positions back to byte offsets.
func (m *matcher) findRegex(s string) []span {
	runes := []rune(s)
	// byteAt[i] is the byte offset of rune i; invalid UTF-8 was replaced by
	// U+FFFD in runes, so offsets come from decoding s itself.
	byteAt := make([]int, len(runes)+1)
	for i, off := 0, 0; i < len(runes); i++ {
		byteAt[i] = off
		_, n := utf8.DecodeRuneInString(s[off:])
		off += n
	}
	byteAt[len(runes)] = len(s)
	var out []span
	mt, err := m.re.FindRunesMatch(runes)
	for err == nil && mt != nil {
		if mt.Length > 0 {
			out = append(out, span{byteAt[mt.Index], byteAt[mt.Index+mt.Length]})
		}
		mt, err = m.re.FindNextMatch(mt)
	}
	if err != nil {
		// Only a timeout fails a match, and there is none.
		panic(fmt.Sprintf("tokenizer: regex %q: %v", m.re.String(), err))
	}
	return out
}

// replaceAll replaces every match of m in s by with.
func (m *matcher) replaceAll(s, with string) string {
	spans := m.find(s)
	if len(spans) == 0 {
		return s
	}
	var b strings.Builder
	last := 0
	for _, sp := range spans {
		b.WriteString(s[last:sp.start])
		b.WriteString(with)
		last = sp.end
	}
	b.WriteString(s[last:])
	return b.String()
}
