package tokenizer

import (
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/rivo/uniseg"
)

// precompiled is the Precompiled normalizer of SentencePiece models (T5,
// XLM-R, ALBERT, multilingual e5, ...): a table of rewrites compiled into a
// darts-clone double-array trie over UTF-8 bytes, applied the way Hugging
// Face's tokenizers applies it.
//
// The charsmap blob is a little-endian uint32 trie size in bytes, the trie
// (little-endian uint32 units), then the replacement strings, each ended by
// a NUL; a key's value in the trie is the byte offset of its replacement.
//
// Rule (Hugging Face's, which differs from SentencePiece's own): the text is
// cut into extended grapheme clusters. A cluster shorter than 6 bytes that
// the trie matches is replaced whole by the replacement of the SHORTEST key
// that is a byte prefix of it (so "ﬁ" plus a combining accent becomes "fi",
// the accent dropped). Any other cluster is rewritten character by
// character: a character the trie matches is replaced, the rest are kept.
// SentencePiece instead replaces the LONGEST key that prefixes the remaining
// bytes, wherever graphemes fall, and keeps whatever follows.
type precompiled struct {
	units []uint32 // the double array
	repl  string   // replacement strings, each ended by NUL
	// ASCII bytes are graphemes on their own (but for CR LF) and make up
	// most text: their lookups are done once here.
	asciiHit  [128]bool
	asciiRepl [128]string
}

// A double-array unit holds, for a node, its label (8 bits, with bit 31 set
// on value units so that they never match a label), whether the node ends a
// key (bit 8) and the offset to its children (bits 10-30, shifted 8 more
// when bit 9 is set); a value unit holds the value in bits 0-30.
func unitHasLeaf(u uint32) bool { return u>>8&1 == 1 }
func unitValue(u uint32) uint32 { return u & (1<<31 - 1) }
func unitLabel(u uint32) uint32 { return u & (1<<31 | 0xFF) }
func unitOffset(u uint32) uint32 {
	return (u >> 10) << ((u & (1 << 9)) >> 6)
}

// newPrecompiled decodes a base64 precompiled_charsmap and checks every key
// the trie holds, so that a malformed blob is refused here rather than
// misread later.
func newPrecompiled(charsmap string) (normalizer, error) {
	blob, err := base64.StdEncoding.DecodeString(charsmap)
	if err != nil {
		return nil, fmt.Errorf("precompiled_charsmap: not base64: %v", err)
	}
	if len(blob) < 4 {
		return nil, fmt.Errorf("precompiled_charsmap: %d bytes, too short to hold the trie size", len(blob))
	}
	size := binary.LittleEndian.Uint32(blob)
	rest := blob[4:]
	switch {
	case size == 0:
		return nil, fmt.Errorf("precompiled_charsmap: the trie is empty")
	case size%4 != 0:
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d is not a multiple of 4", size)
	case uint64(size) > uint64(len(rest)):
		return nil, fmt.Errorf("precompiled_charsmap: trie size %d is more than the %d bytes that follow it", size, len(rest))
	}
	p := &precompiled{
		units: make([]uint32, size/4),
		repl:  string(rest[size:]),
	}
	for i := range p.units {
		p.units[i] = binary.LittleEndian.Uint32(rest[4*i:])
	}
	if !utf8.ValidString(p.repl) {
		return nil, fmt.Errorf("precompiled_charsmap: the replacement strings are not valid UTF-8")
	}
	if err := p.check(); err != nil {
		return nil, fmt.Errorf("precompiled_charsmap: %w", err)
	}
	for c := 1; c < 128; c++ {
		p.asciiRepl[c], p.asciiHit[c] = p.transform(string(rune(c)))
	}
	return p, nil
}

// check walks every node reachable from the root and checks that each key's
// value points at a replacement string that is valid UTF-8 on its own.
// A node is walked once, so a trie with cycles ends too; the walk costs 255
// probes per node: loading XLNet's nmt_nfkc charsmap (44,288 units) takes
// 6-10 ms in all.
func (p *precompiled) check() error {
	n := uint32(len(p.units))
	// Children of a base b lie in b's block of 256 units: a base in a
	// block past the array has none.
	seen := make([]bool, (n+255)&^255)
	stack := []uint32{unitOffset(p.units[0])}
	for len(stack) > 0 {
		base := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for c := uint32(1); c < 256; c++ {
			child := base ^ c
			if child >= n || unitLabel(p.units[child]) != c {
				continue
			}
			next := child ^ unitOffset(p.units[child])
			if unitHasLeaf(p.units[child]) {
				if next >= n {
					return fmt.Errorf("trie unit %d: its value unit %d is past the %d units", child, next, n)
				}
				if err := p.checkValue(unitValue(p.units[next])); err != nil {
					return fmt.Errorf("trie unit %d: %w", next, err)
				}
			}
			if next < uint32(len(seen)) && !seen[next] {
				seen[next] = true
				stack = append(stack, next)
			}
		}
	}
	return nil
}

func (p *precompiled) checkValue(v uint32) error {
	if uint64(v) > uint64(len(p.repl)) {
		return fmt.Errorf("value %d is past the %d bytes of replacement strings", v, len(p.repl))
	}
	if !utf8.ValidString(p.replacement(v)) {
		return fmt.Errorf("value %d does not start a character of the replacement strings", v)
	}
	return nil
}

// replacement is the string at offset v, up to its NUL or the blob's end.
func (p *precompiled) replacement(v uint32) string {
	s := p.repl[v:]
	if i := strings.IndexByte(s, 0); i >= 0 {
		s = s[:i]
	}
	return s
}

// transform returns the replacement of the shortest key that is a byte
// prefix of s (a NUL in s ends the key), as Hugging Face's does.
func (p *precompiled) transform(s string) (string, bool) {
	u := p.units
	n := uint32(len(u))
	pos := unitOffset(u[0])
	for i := 0; i < len(s) && s[i] != 0; i++ {
		c := uint32(s[i])
		pos ^= c
		if pos >= n || unitLabel(u[pos]) != c {
			return "", false
		}
		unit := u[pos]
		pos ^= unitOffset(unit)
		if unitHasLeaf(unit) {
			if pos >= n { // refused by check; kept so that no input can panic
				return "", false
			}
			v := unitValue(u[pos])
			if uint64(v) > uint64(len(p.repl)) {
				return "", false
			}
			return p.replacement(v), true
		}
	}
	return "", false
}

// normalize rewrites s grapheme by grapheme (see precompiled).
func (p *precompiled) normalize(s string) string {
	out := make([]byte, 0, len(s)+len(s)/8)
	changed := false
	state := -1
	for rest := s; len(rest) > 0; {
		c := rest[0]
		// An ASCII byte followed by another (or by nothing) is a grapheme
		// of its own, but for CR LF; the next cluster starts afresh.
		if c < utf8.RuneSelf && (len(rest) == 1 || rest[1] < utf8.RuneSelf && (c != '\r' || rest[1] != '\n')) {
			if p.asciiHit[c] {
				out = append(out, p.asciiRepl[c]...)
				changed = true
			} else {
				out = append(out, c)
			}
			rest = rest[1:]
			state = -1
			continue
		}
		var g string
		g, rest, _, state = uniseg.FirstGraphemeClusterInString(rest, state)
		var hit bool
		out, hit = p.appendCluster(out, g)
		changed = changed || hit
	}
	if !changed {
		return s
	}
	return string(out)
}

// appendCluster appends grapheme cluster g, rewritten, to out and tells
// whether the trie matched any of it.
func (p *precompiled) appendCluster(out []byte, g string) ([]byte, bool) {
	// 6 bytes: Hugging Face's bound (grapheme.len() < 6), kept as is.
	if len(g) < 6 {
		if r, ok := p.transform(g); ok {
			return append(out, r...), true
		}
	}
	hit := false
	for i := 0; i < len(g); {
		_, n := utf8.DecodeRuneInString(g[i:])
		part := g[i : i+n]
		if r, ok := p.transform(part); ok {
			out = append(out, r...)
			hit = true
		} else {
			out = append(out, part...)
		}
		i += n
	}
	return out, hit
}
