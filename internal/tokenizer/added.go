package tokenizer

import (
	"fmt"
	"unicode"
	"unicode/utf8"
)

// addedToken is an entry of tokenizer.json's added_tokens.
type addedToken struct {
	ID         int    `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

// addedVocab finds added tokens in text: those marked normalized in the
// normalized text (their content normalized too), the others in the raw
// text first, as the tokenizers library does.
type addedVocab struct {
	raw, normalized *trie
	tokens          []addedToken
}

func newAddedVocab(list []addedToken, n normalizer) (*addedVocab, error) {
	a := &addedVocab{raw: newTrie(), normalized: newTrie()}
	// A content listed twice keeps its first place and takes its last
	// entry, id included, as both references do (transformers.js maps
	// contents to ids in list order; the Rust tokenizers gives such a token
	// the model's id, the last one a Unigram vocabulary lists).
	seen := make(map[string]int, len(list))
	for i, t := range list {
		if t.Content == "" {
			return nil, fmt.Errorf("added_tokens[%d] (id %d) has no content", i, t.ID)
		}
		if k, dup := seen[t.Content]; dup {
			a.tokens[k] = t
			continue
		}
		k := len(a.tokens)
		seen[t.Content] = k
		a.tokens = append(a.tokens, t)
		if t.Normalized && n != nil {
			if c := n.normalize(t.Content); c != "" {
				a.normalized.insert(c, k)
			}
			continue
		}
		if t.Normalized {
			a.normalized.insert(t.Content, k)
		} else {
			a.raw.insert(t.Content, k)
		}
	}
	return a, nil
}

// part is a piece of text, or an added token (token >= 0).
type part struct {
	piece
	token int
}

// split cuts p at the added tokens tr holds, leftmost longest first.
func (a *addedVocab) split(p piece, tr *trie, out []part) []part {
	s := p.s
	from := 0 // the end of the last accepted token
	for i := 0; i < len(s); {
		end, k := tr.longest(s, i)
		if k < 0 {
			i++
			continue
		}
		t := a.tokens[k]
		start := i
		i = end // a rejected match is skipped whole, as Aho-Corasick does
		if t.SingleWord && (wordBefore(s[:start]) || wordAfter(s[end:])) {
			continue
		}
		if t.LStrip {
			start = max(from, trailingSpaceStart(s[:start]))
		}
		if t.RStrip {
			end += leadingSpaceLen(s[end:])
			i = end
		}
		if from < start {
			out = append(out, part{piece{s[from:start], p.first && from == 0}, -1})
		}
		out = append(out, part{piece{s[start:end], false}, t.ID})
		from = end
	}
	if from < len(s) {
		out = append(out, part{piece{s[from:], p.first && from == 0}, -1})
	}
	return out
}

func isWordRune(r rune) bool { return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r) }

func wordBefore(s string) bool {
	r, n := utf8.DecodeLastRuneInString(s)
	return n > 0 && isWordRune(r)
}

func wordAfter(s string) bool {
	r, n := utf8.DecodeRuneInString(s)
	return n > 0 && isWordRune(r)
}

// trailingSpaceStart returns where the whitespace that ends s begins.
func trailingSpaceStart(s string) int {
	for len(s) > 0 {
		r, n := utf8.DecodeLastRuneInString(s)
		if !unicode.IsSpace(r) {
			break
		}
		s = s[:len(s)-n]
	}
	return len(s)
}

// leadingSpaceLen returns the length of the whitespace that starts s.
func leadingSpaceLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if !unicode.IsSpace(r) {
			break
		}
		n += size
	}
	return n
}

// trie is a byte trie of token contents.
type trie struct {
	next  []map[byte]int32
	value []int // -1: no token ends here
}

func newTrie() *trie { return &trie{next: []map[byte]int32{nil}, value: []int{-1}} }

func (t *trie) insert(s string, v int) {
	n := int32(0)
	for i := 0; i < len(s); i++ {
		c, ok := t.next[n][s[i]]
		if !ok {
			if t.next[n] == nil {
				t.next[n] = map[byte]int32{}
			}
			c = int32(len(t.value))
			t.next[n][s[i]] = c
			t.next = append(t.next, nil)
			t.value = append(t.value, -1)
		}
		n = c
	}
	if t.value[n] < 0 {
		t.value[n] = v
	}
}

// longest returns the end and value of the longest entry that starts s at
// i, or -1.
func (t *trie) longest(s string, i int) (int, int) {
	end, v := -1, -1
	n := int32(0)
	for j := i; j < len(s); j++ {
		c, ok := t.next[n][s[j]]
		if !ok {
			break
		}
		n = c
		if t.value[n] >= 0 {
			end, v = j+1, t.value[n]
		}
	}
	return end, v
}
