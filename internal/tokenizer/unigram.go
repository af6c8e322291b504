package tokenizer

import (
	"encoding/json"
	"fmt"
	"math"
	"unicode/utf8"
)

// unigram is SentencePiece's unigram model: a word is split into the
// pieces whose scores (log probabilities) sum highest, found by Viterbi;
// a character no piece covers is the unknown token, scored 10 below the
// lowest piece, and unknowns in a row are one token.
type unigram struct {
	vocab        map[string]int
	scores       []float64
	unk          int
	unkScore     float64
	maxLen       int // longest piece, bytes
	byteFallback bool
	byteIDs      [256]int
}

// unkPenalty is how far below the lowest piece the unknown token scores.
const unkPenalty = 10.0

func newUnigram(c modelConfig) (model, error) {
	var entries [][2]json.RawMessage
	if err := json.Unmarshal(c.Vocab, &entries); err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	m := &unigram{vocab: make(map[string]int, len(entries)), scores: make([]float64, len(entries)),
		unk: -1, byteFallback: c.ByteFallback}
	low := math.Inf(1)
	for i, e := range entries {
		var p string
		if err := json.Unmarshal(e[0], &p); err != nil {
			return nil, fmt.Errorf("vocab entry %d: %w", i, err)
		}
		if err := json.Unmarshal(e[1], &m.scores[i]); err != nil {
			return nil, fmt.Errorf("vocab entry %d %q: %w", i, p, err)
		}
		// A piece listed twice takes its last id, as in both references
		// (their maps are filled in vocabulary order).
		m.vocab[p] = i
		m.maxLen = max(m.maxLen, len(p))
		low = min(low, m.scores[i])
	}
	m.unkScore = low - unkPenalty
	if c.UnkID == nil {
		// The tokenizers library fails on a character no piece covers
		// then; refusing the file says so before any text is read.
		return nil, fmt.Errorf("no unk_id")
	}
	{
		if *c.UnkID < 0 || *c.UnkID >= len(entries) {
			return nil, fmt.Errorf("unk_id %d is outside the vocabulary of %d", *c.UnkID, len(entries))
		}
		m.unk = *c.UnkID
	}
	for b := range m.byteIDs {
		m.byteIDs[b] = -1
		if id, ok := m.vocab[fmt.Sprintf("<0x%02X>", b)]; ok {
			m.byteIDs[b] = id
		}
	}
	return m, nil
}

func (m *unigram) id(t string) (int, bool) { id, ok := m.vocab[t]; return id, ok }

// node is the best path that ends at a byte offset.
type node struct {
	score float64
	start int // -1: no path
	id    int
}

func (m *unigram) tokenize(word string, out []int) []int {
	best := m.viterbi(word)
	// Walk back from the end; unknowns in a row make one token.
	var pieces []span
	var ids []int
	for end := len(word); end > 0; {
		n := best[end]
		if n.id == m.unk && len(ids) > 0 && ids[len(ids)-1] == m.unk {
			pieces[len(pieces)-1].start = n.start
		} else {
			pieces, ids = append(pieces, span{n.start, end}), append(ids, n.id)
		}
		end = n.start
	}
	for i := len(pieces) - 1; i >= 0; i-- {
		out = m.emit(word[pieces[i].start:pieces[i].end], ids[i], out)
	}
	return out
}

// emit appends the id of one piece: an unknown piece becomes its bytes'
// <0xXX> tokens where the model falls back to bytes and has them all.
func (m *unigram) emit(p string, id int, out []int) []int {
	if id != m.unk {
		return append(out, id)
	}
	if known, ok := m.vocab[p]; ok {
		return append(out, known)
	}
	if m.byteFallback {
		all := true
		for i := 0; i < len(p); i++ {
			all = all && m.byteIDs[p[i]] >= 0
		}
		if all {
			for i := 0; i < len(p); i++ {
				out = append(out, m.byteIDs[p[i]])
			}
			return out
		}
	}
	return append(out, m.unk)
}

// viterbi returns, for each byte offset of word, the best path ending there.
func (m *unigram) viterbi(word string) []node {
	best := make([]node, len(word)+1)
	for i := range best {
		best[i].start = -1
	}
	best[0] = node{score: 0, start: 0, id: -1}
	for start := 0; start < len(word); {
		_, clen := utf8.DecodeRuneInString(word[start:])
		base := best[start].score
		single := false
		for end := start + clen; end <= len(word) && end-start <= m.maxLen; end++ {
			if end < len(word) && !utf8.RuneStart(word[end]) {
				continue
			}
			id, ok := m.vocab[word[start:end]]
			if !ok {
				continue
			}
			if s := base + m.scores[id]; best[end].start < 0 || s > best[end].score {
				best[end] = node{s, start, id}
			}
			single = single || end == start+clen
		}
		if !single {
			end := start + clen
			if s := base + m.unkScore; best[end].start < 0 || s > best[end].score {
				best[end] = node{s, start, m.unk}
			}
		}
		start += clen
	}
	return best
}
