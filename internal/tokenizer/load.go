// Package tokenizer reads a Hugging Face tokenizer.json and turns text into
// token ids as the Hugging Face tokenizers library does: added tokens, the
// normalizer, the pre-tokenizer, the model (BPE, byte-level or with byte
// fallback, WordPiece, Unigram, WordLevel) and the post-processor, each as the
// file declares it. It computes ids and token type ids only, not offsets.
//
// A file that uses a component this package does not implement is refused
// with an error naming the component, never tokenized approximately.
package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Tokenizer turns text into ids. It is safe for concurrent use.
type Tokenizer struct {
	added *addedVocab
	norm  normalizer // nil: none
	pre   preTokenizer
	model model
	post  postProcessor // nil: none
	pad   padding
	// maxLen is tokenizer_config.json's model_max_length (0: none).
	maxLen int
}

// ModelMaxLength is the longest sequence the model takes, as
// tokenizer_config.json beside the file says; 0 when it says nothing.
func (t *Tokenizer) ModelMaxLength() int { return t.maxLen }

// file is the part of tokenizer.json this package reads.
type file struct {
	AddedTokens   []addedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	Model         json.RawMessage `json:"model"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Padding       *filePadding    `json:"padding"`
}

type filePadding struct {
	PadID     *int64 `json:"pad_id"`
	Direction string `json:"direction"`
}

// component is the tag every polymorphic part of tokenizer.json carries.
type component struct {
	Type string `json:"type"`
}

// Load reads the tokenizer.json at path.
func Load(path string) (*Tokenizer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	t, f, err := parse(b)
	if err == nil {
		err = t.applyConfig(f.Padding, filepath.Dir(path))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// Parse reads a tokenizer.json held in memory (no tokenizer_config.json
// beside it).
func Parse(b []byte) (*Tokenizer, error) {
	t, f, err := parse(b)
	if err == nil {
		err = t.applyConfig(f.Padding, "")
	}
	return t, err
}

func parse(b []byte) (*Tokenizer, *file, error) {
	var f file
	if err := json.Unmarshal(b, &f); err != nil {
		return nil, nil, fmt.Errorf("not a tokenizer.json: %w", err)
	}
	t := &Tokenizer{}
	var err error
	if t.model, err = parseModel(f.Model); err != nil {
		return nil, nil, err
	}
	if t.norm, err = parseNormalizer(f.Normalizer); err != nil {
		return nil, nil, err
	}
	if t.pre, err = parsePreTokenizer(f.PreTokenizer); err != nil {
		return nil, nil, err
	}
	if t.post, err = parsePostProcessor(f.PostProcessor); err != nil {
		return nil, nil, err
	}
	if t.added, err = newAddedVocab(f.AddedTokens, t.norm); err != nil {
		return nil, nil, err
	}
	return t, &f, nil
}

// isNull says a raw JSON value is absent or null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// typeOf returns the "type" tag of a component.
func typeOf(raw json.RawMessage, what string) (string, error) {
	var c component
	if err := json.Unmarshal(raw, &c); err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	return c.Type, nil
}

// unsupported is the error for a component this package does not implement.
func unsupported(what, typ string) error {
	return fmt.Errorf("%s %q is not supported", what, typ)
}
