package tokenizer

import (
	"strings"
)

// gpt2Split is the word pattern of GPT-2's byte-level pre-tokenizer.
const gpt2Split = `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`

// byteChars maps each byte to the printable character GPT-2's byte-level
// BPE writes for it: printable Latin-1 bytes stand for themselves, the
// others take the code points from 256 up, in byte order.
var byteChars = func() [256]string {
	var t [256]string
	n := 0
	for b := 0; b < 256; b++ {
		if b >= '!' && b <= '~' || b >= 0xA1 && b <= 0xAC || b >= 0xAE {
			t[b] = string(rune(b))
			continue
		}
		t[b] = string(rune(256 + n))
		n++
	}
	return t
}()

// toByteChars spells the UTF-8 bytes of s in byte characters.
func toByteChars(s string) string {
	var b strings.Builder
	b.Grow(2 * len(s))
	for i := 0; i < len(s); i++ {
		b.WriteString(byteChars[s[i]])
	}
	return b.String()
}

// byteLevelPre is the ByteLevel pre-tokenizer: an optional leading space,
// GPT-2's word pattern, then every byte spelled as a character.
type byteLevelPre struct {
	prefix bool
	re     *matcher // nil: use_regex false
}

func newByteLevelPre(c preConfig) (preTokenizer, error) {
	t := byteLevelPre{prefix: c.AddPrefixSpace == nil || *c.AddPrefixSpace}
	if c.UseRegex == nil || *c.UseRegex {
		re, err := compileRegex(gpt2Split)
		if err != nil {
			return nil, err
		}
		t.re = re
	}
	return t, nil
}

func (t byteLevelPre) split(p piece, out []piece) []piece {
	if t.prefix && !strings.HasPrefix(p.s, " ") {
		p.s = " " + p.s
	}
	parts := []piece{p}
	if t.re != nil {
		parts = isolated.apply(p, segments(p.s, t.re.find(p.s), false))
	}
	for _, q := range parts {
		out = append(out, piece{toByteChars(q.s), q.first})
	}
	return out
}
