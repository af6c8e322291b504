package tokenizer

import "strings"

// meta is SentencePiece's space marker, U+2581.
const meta = "▁"

// metaOnlyLeading says every token of the vocabulary that holds ▁ holds it
// only in a run at its start, and some token does.
func metaOnlyLeading(vocab map[string]int) bool {
	some := false
	for tok := range vocab {
		i := strings.Index(tok, meta)
		if i < 0 {
			continue
		}
		some = true
		rest := strings.TrimLeft(tok, meta)
		if i > 0 || strings.Contains(rest, meta) {
			return false
		}
	}
	return some
}

// tokenizeParts tokenizes a word part by part, cut before each run of ▁
// that follows another character: no token spans such a cut, so no merge
// does, and the ids are those of the whole word.
func (m *bpe) tokenizeParts(word string, out []int) []int {
	start := 0
	for i := len(meta); i < len(word); {
		j := strings.Index(word[i:], meta)
		if j < 0 {
			break
		}
		at := i + j
		if !strings.HasSuffix(word[:at], meta) {
			out = m.tokenizeWord(word[start:at], out)
			start = at
		}
		i = at + len(meta)
	}
	return m.tokenizeWord(word[start:], out)
}
