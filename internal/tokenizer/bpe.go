package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// bpe is a byte-pair-encoding model: a word starts as its characters (or,
// with byte fallback, the <0xXX> tokens of a character outside the
// vocabulary) and the adjacent pair of lowest merge rank is merged until
// no pair merges.
type bpe struct {
	vocab        map[string]int
	merges       map[uint64]merge
	unk          int // -1: none
	fuseUnk      bool
	byteFallback bool
	ignoreMerges bool
	prefix       string // continuing_subword_prefix
	suffix       string // end_of_word_suffix
	byteIDs      [256]int
	// metaSplit says no token has a ▁ after another character, so no merge
	// crosses the start of a ▁ run: a SentencePiece line, one word with no
	// pre-tokenizer, is merged word by word there, through the cache
	// (measured: Llama 2 on English 1.5 -> see bpe_split.go).
	metaSplit bool

	mu    sync.Mutex
	cache map[string][]int
}

type merge struct{ rank, id int32 }

// bpeCacheSize bounds the per-tokenizer cache of tokenized words.
const bpeCacheSize = 1 << 16

func pairKey(a, b int) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

func newBPE(c modelConfig) (model, error) {
	if c.Dropout != nil && *c.Dropout > 0 && *c.Dropout < 1 {
		return nil, fmt.Errorf("dropout %g makes the ids random; only dropout 0 or null is supported", *c.Dropout)
	}
	v, err := vocabMap(c.Vocab)
	if err != nil {
		return nil, err
	}
	m := &bpe{vocab: v, fuseUnk: c.FuseUnk, byteFallback: c.ByteFallback, ignoreMerges: c.IgnoreMerges,
		cache: map[string][]int{}}
	if c.ContinuingSubwordPrefix != nil {
		m.prefix = *c.ContinuingSubwordPrefix
	}
	if c.EndOfWordSuffix != nil {
		m.suffix = *c.EndOfWordSuffix
	}
	if m.unk, err = unkID(v, c.UnkToken); err != nil {
		return nil, err
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := v[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	if m.merges, err = m.parseMerges(c.Merges); err != nil {
		return nil, err
	}
	m.metaSplit = m.prefix == "" && m.suffix == "" && metaOnlyLeading(v)
	return m, nil
}

// parseMerges reads merges written as "a b" strings or as ["a", "b"]
// pairs (newer files), decoding the list once in the form it has.
func (m *bpe) parseMerges(raw json.RawMessage) (map[uint64]merge, error) {
	var pairs [][2]string
	if !isNull(raw) {
		var joined []string
		if err := json.Unmarshal(raw, &joined); err == nil {
			pairs = make([][2]string, len(joined))
			for i, s := range joined {
				a, b, ok := strings.Cut(s, " ")
				if !ok {
					return nil, fmt.Errorf("merge %d %q: not a pair", i, s)
				}
				pairs[i] = [2]string{a, b}
			}
		} else if err := json.Unmarshal(raw, &pairs); err != nil {
			return nil, fmt.Errorf("merges: neither \"a b\" strings nor pairs: %w", err)
		}
	}
	out := make(map[uint64]merge, len(pairs))
	for rank, pair := range pairs {
		a, okA := m.vocab[pair[0]]
		b, okB := m.vocab[pair[1]]
		ab, okAB := m.vocab[pair[0]+strings.TrimPrefix(pair[1], m.prefix)]
		if !okA || !okB || !okAB {
			return nil, fmt.Errorf("merge %d %q: a token is not in the vocabulary", rank, pair)
		}
		k := pairKey(a, b)
		if _, dup := out[k]; !dup {
			out[k] = merge{int32(rank), int32(ab)}
		}
	}
	return out, nil
}

func (m *bpe) id(t string) (int, bool) { id, ok := m.vocab[t]; return id, ok }

func (m *bpe) tokenize(word string, out []int) []int {
	if m.metaSplit && len(word) > 16 {
		return m.tokenizeParts(word, out)
	}
	return m.tokenizeWord(word, out)
}

func (m *bpe) tokenizeWord(word string, out []int) []int {
	if m.ignoreMerges {
		if id, ok := m.vocab[word]; ok {
			return append(out, id)
		}
	}
	m.mu.Lock()
	ids, ok := m.cache[word]
	m.mu.Unlock()
	if ok {
		return append(out, ids...)
	}
	ids = m.mergeAll(m.symbols(word))
	m.mu.Lock()
	if len(m.cache) >= bpeCacheSize {
		clear(m.cache)
	}
	m.cache[word] = ids
	m.mu.Unlock()
	return append(out, ids...)
}

// symbols returns the ids a word starts as.
func (m *bpe) symbols(word string) []int {
	syms := make([]int, 0, len(word))
	lastUnk := false
	for i, n := 0, 0; i < len(word); i += n {
		// An invalid byte is a character of one byte (U+FFFD's length
		// would run past it).
		_, n = utf8.DecodeRuneInString(word[i:])
		ch := word[i : i+n]
		s := ch
		if m.prefix != "" && i > 0 {
			s = m.prefix + s
		}
		if m.suffix != "" && i+n == len(word) {
			s += m.suffix
		}
		if id, ok := m.vocab[s]; ok {
			syms, lastUnk = append(syms, id), false
			continue
		}
		if m.byteFallback && m.allBytes(ch) {
			for _, b := range []byte(ch) {
				syms = append(syms, m.byteIDs[b])
			}
			lastUnk = false
			continue
		}
		if m.unk >= 0 {
			if !(m.fuseUnk && lastUnk) {
				syms = append(syms, m.unk)
			}
			lastUnk = true
		}
	}
	return syms
}

func (m *bpe) allBytes(s string) bool {
	for i := 0; i < len(s); i++ {
		if m.byteIDs[s[i]] < 0 {
			return false
		}
	}
	return true
}

// mergeAll merges the pair of lowest rank, the leftmost of equals, until
// none merges. A linear scan per merge is quadratic in a word's length, so
// long words (a SentencePiece line is one word) go through a heap.
func (m *bpe) mergeAll(syms []int) []int {
	if len(syms) > 48 {
		return m.mergeHeap(syms)
	}
	return m.mergeScan(syms)
}

// mergeScan is mergeAll by a linear scan per merge.
func (m *bpe) mergeScan(syms []int) []int {
	for len(syms) > 1 {
		best, at, id := int32(-1), -1, int32(0)
		for i := 0; i+1 < len(syms); i++ {
			if mg, ok := m.merges[pairKey(syms[i], syms[i+1])]; ok && (best < 0 || mg.rank < best) {
				best, at, id = mg.rank, i, mg.id
			}
		}
		if at < 0 {
			break
		}
		syms[at] = int(id)
		syms = append(syms[:at+1], syms[at+2:]...)
	}
	return syms
}
