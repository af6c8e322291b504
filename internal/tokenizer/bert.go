package tokenizer

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// bertNormalizer is BERT's normalizer: control characters removed and
// whitespace made a space (clean_text), CJK ideographs set apart by spaces,
// accents stripped and lower case, each as the file says.
type bertNormalizer struct {
	clean, chinese, accents, lower bool
}

func newBertNormalizer(clean, chinese, accents, lower *bool) bertNormalizer {
	or := func(p *bool, d bool) bool {
		if p == nil {
			return d
		}
		return *p
	}
	n := bertNormalizer{clean: or(clean, true), chinese: or(chinese, true), lower: or(lower, true)}
	// strip_accents null follows lowercase, as in BERT's original code.
	n.accents = or(accents, n.lower)
	return n
}

func (n bertNormalizer) normalize(s string) string {
	if n.clean {
		s = strings.Map(func(r rune) rune {
			switch {
			case r == 0 || r == 0xFFFD || isBertControl(r):
				return -1
			case unicode.IsSpace(r):
				return ' '
			}
			return r
		}, s)
	}
	if n.chinese {
		s = spaceCJK(s)
	}
	if n.accents {
		s = strings.Map(func(r rune) rune {
			if unicode.Is(unicode.Mn, r) {
				return -1
			}
			return r
		}, norm.NFD.String(s))
	}
	if n.lower {
		s = lowercase(s)
	}
	return s
}

// isBertControl says r is "other" (Cc, Cf, Cn, Co, Cs) but not a tab or a
// line break, which BERT treats as whitespace.
func isBertControl(r rune) bool {
	if r == '\t' || r == '\n' || r == '\r' {
		return false
	}
	return unicode.In(r, unicode.Cc, unicode.Cf, unicode.Co, unicode.Cs) || !isAssigned(r)
}

// isAssigned says r has a general category other than Cn.
func isAssigned(r rune) bool {
	return r < 0x80 || unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S, unicode.Z, unicode.C)
}

func spaceCJK(s string) string {
	found := false
	for _, r := range s {
		if isCJK(r) {
			found = true
			break
		}
	}
	if !found {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isCJK(r) {
			b.WriteByte(' ')
			b.WriteRune(r)
			b.WriteByte(' ')
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// isCJK says r is in one of the CJK ideograph blocks BERT sets apart.
func isCJK(r rune) bool {
	return r >= 0x4E00 && r <= 0x9FFF || r >= 0x3400 && r <= 0x4DBF || r >= 0x20000 && r <= 0x2A6DF ||
		r >= 0x2A700 && r <= 0x2B73F || r >= 0x2B740 && r <= 0x2B81F || r >= 0x2B820 && r <= 0x2CEAF ||
		r >= 0xF900 && r <= 0xFAFF || r >= 0x2F800 && r <= 0x2FA1F
}

// isPunct is the punctuation BERT's pre-tokenizer and the Punctuation
// pre-tokenizer isolate: ASCII punctuation and general category P.
func isPunct(r rune) bool {
	if r < 0x80 {
		return r > ' ' && r < 0x7F && !(r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}
	return unicode.IsPunct(r)
}
