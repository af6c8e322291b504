package tokenizer

import (
	"encoding/json"
	"fmt"
	"strings"
)

// model turns one pre-tokenized word into ids.
type model interface {
	tokenize(word string, out []int) []int
	// id is the id of a token of the vocabulary.
	id(token string) (int, bool)
}

type modelConfig struct {
	Type                    string          `json:"type"`
	Vocab                   json.RawMessage `json:"vocab"`
	Merges                  json.RawMessage `json:"merges"`
	UnkToken                *string         `json:"unk_token"`
	UnkID                   *int            `json:"unk_id"`
	ContinuingSubwordPrefix *string         `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string         `json:"end_of_word_suffix"`
	FuseUnk                 bool            `json:"fuse_unk"`
	ByteFallback            bool            `json:"byte_fallback"`
	IgnoreMerges            bool            `json:"ignore_merges"`
	Dropout                 *float64        `json:"dropout"`
	MaxInputCharsPerWord    *int            `json:"max_input_chars_per_word"`
}

// parseModel builds the model a tokenizer.json declares.
func parseModel(raw json.RawMessage) (model, error) {
	if isNull(raw) {
		return nil, fmt.Errorf("no model")
	}
	var c modelConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	if c.Type == "" {
		// Older files leave the tag out; the fields tell which model it is.
		switch {
		case len(c.Merges) > 0:
			c.Type = "BPE"
		case c.UnkID != nil:
			c.Type = "Unigram"
		case c.ContinuingSubwordPrefix != nil:
			c.Type = "WordPiece"
		}
	}
	var m model
	var err error
	switch c.Type {
	case "BPE":
		m, err = newBPE(c)
	case "WordPiece":
		m, err = newWordPiece(c)
	case "WordLevel":
		m, err = newWordLevel(c)
	case "Unigram":
		m, err = newUnigram(c)
	default:
		return nil, unsupported("model", c.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", c.Type, err)
	}
	return m, nil
}

// vocabMap reads a {"token": id} vocabulary.
func vocabMap(raw json.RawMessage) (map[string]int, error) {
	var v map[string]int
	if err := json.Unmarshal(raw, &v); err != nil {
		return nil, fmt.Errorf("vocab: %w", err)
	}
	return v, nil
}

// unkID returns the id of the unknown token, -1 for none.
func unkID(vocab map[string]int, unk *string) (int, error) {
	if unk == nil {
		return -1, nil
	}
	id, ok := vocab[*unk]
	if !ok {
		return -1, fmt.Errorf("unk_token %q is not in the vocabulary", *unk)
	}
	return id, nil
}

// wordPiece is BERT's greedy longest-match-first subword model.
type wordPiece struct {
	vocab    map[string]int
	unk      int
	prefix   string
	maxChars int
}

func newWordPiece(c modelConfig) (model, error) {
	v, err := vocabMap(c.Vocab)
	if err != nil {
		return nil, err
	}
	m := &wordPiece{vocab: v, prefix: "##", maxChars: 100}
	if c.UnkToken == nil {
		return nil, fmt.Errorf("no unk_token")
	}
	if m.unk, err = unkID(v, c.UnkToken); err != nil {
		return nil, err
	}
	if c.ContinuingSubwordPrefix != nil {
		m.prefix = *c.ContinuingSubwordPrefix
	}
	if c.MaxInputCharsPerWord != nil {
		m.maxChars = *c.MaxInputCharsPerWord
	}
	return m, nil
}

func (m *wordPiece) id(t string) (int, bool) { id, ok := m.vocab[t]; return id, ok }

func (m *wordPiece) tokenize(word string, out []int) []int {
	if len([]rune(word)) > m.maxChars {
		return append(out, m.unk)
	}
	n0 := len(out)
	var b strings.Builder
	for start := 0; start < len(word); {
		end, found := len(word), -1
		for end > start {
			sub := word[start:end]
			if start > 0 {
				b.Reset()
				b.WriteString(m.prefix)
				b.WriteString(sub)
				sub = b.String()
			}
			if id, ok := m.vocab[sub]; ok {
				found = id
				break
			}
			end = prevBoundary(word, end)
		}
		if found < 0 {
			return append(out[:n0], m.unk)
		}
		out = append(out, found)
		start = end
	}
	return out
}

// prevBoundary returns the start of the character that ends at end.
func prevBoundary(s string, end int) int {
	end--
	for end > 0 && s[end]&0xC0 == 0x80 {
		end--
	}
	return end
}

// wordLevel maps each word to its id, or the unknown token.
type wordLevel struct {
	vocab map[string]int
	unk   int
}

func newWordLevel(c modelConfig) (model, error) {
	v, err := vocabMap(c.Vocab)
	if err != nil {
		return nil, err
	}
	if c.UnkToken == nil {
		// The tokenizers library fails on a word outside the vocabulary
		// then; refusing the file says so before any text is read.
		return nil, fmt.Errorf("no unk_token")
	}
	u, err := unkID(v, c.UnkToken)
	return &wordLevel{v, u}, err
}

func (m *wordLevel) id(t string) (int, bool) { id, ok := m.vocab[t]; return id, ok }

func (m *wordLevel) tokenize(word string, out []int) []int {
	if id, ok := m.vocab[word]; ok {
		return append(out, id)
	}
	return append(out, m.unk)
}
