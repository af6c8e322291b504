package tokenizer

// Encoding is one encoded sequence.
type Encoding struct {
	IDs []int
	// TypeIDs holds a token type per id where the post-processor defines
	// them (HasTypes); otherwise it is nil.
	TypeIDs  []int
	HasTypes bool
}

// Encode tokenizes one sequence, with the special tokens the
// post-processor adds.
func (t *Tokenizer) Encode(text string) Encoding {
	return t.process(t.ids(text))
}

// ids tokenizes text without special tokens around it: added tokens found
// in the raw text, the rest normalized, searched for normalized added
// tokens, pre-tokenized and given to the model.
func (t *Tokenizer) ids(text string) []int {
	var ids []int
	for _, p := range t.added.split(piece{text, true}, t.added.raw, nil) {
		if p.token >= 0 {
			ids = append(ids, p.token)
			continue
		}
		s := p.s
		if t.norm != nil {
			s = t.norm.normalize(s)
		}
		for _, q := range t.added.split(piece{s, p.first}, t.added.normalized, nil) {
			if q.token >= 0 {
				ids = append(ids, q.token)
				continue
			}
			if q.s == "" {
				continue
			}
			for _, w := range t.pre.split(q.piece, nil) {
				ids = t.model.tokenize(w.s, ids)
			}
		}
	}
	return ids
}

// TokenID returns the id of a token: an added token or one of the model's
// vocabulary.
func (t *Tokenizer) TokenID(token string) (int, bool) {
	for _, a := range t.added.tokens {
		if a.Content == token {
			return a.ID, true
		}
	}
	return t.model.id(token)
}

// HasTypes says the post-processor gives token type ids.
func (t *Tokenizer) HasTypes() bool {
	return t.post != nil && t.post.process(Encoding{}).HasTypes
}
