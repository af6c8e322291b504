package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
)

// Batch is a padded batch of encoded lines, as a model takes them.
type Batch struct {
	Rows, Len int
	IDs       []int64 // [Rows, Len]
	Mask      []int64 // 1 for a token, 0 for padding
	// TypeIDs are the token types where the post-processor defines them;
	// nil otherwise.
	TypeIDs []int64
	PadID   int64
	// PadFrom says where the padding id came from.
	PadFrom string
	// Left says padding goes before the tokens (padding_side "left").
	Left bool
}

// Pad lays encodings out as a batch, each padded at the end (or the start,
// where the tokenizer pads on the left) to the longest or to length, if
// that is larger.
func (t *Tokenizer) Pad(encs []Encoding, length int) Batch {
	b := Batch{Rows: len(encs), Len: length, PadID: t.pad.id, PadFrom: t.pad.from, Left: t.pad.left}
	types := t.HasTypes()
	for _, e := range encs {
		b.Len = max(b.Len, len(e.IDs))
	}
	b.IDs = make([]int64, b.Rows*b.Len)
	b.Mask = make([]int64, b.Rows*b.Len)
	if types {
		b.TypeIDs = make([]int64, b.Rows*b.Len)
	}
	for r, e := range encs {
		row := b.IDs[r*b.Len : (r+1)*b.Len]
		off := 0
		if b.Left {
			off = b.Len - len(e.IDs)
		}
		for j := range row {
			row[j] = b.PadID
		}
		for j, id := range e.IDs {
			row[off+j] = int64(id)
			b.Mask[r*b.Len+off+j] = 1
			if types && j < len(e.TypeIDs) {
				b.TypeIDs[r*b.Len+off+j] = int64(e.TypeIDs[j])
			}
		}
	}
	return b
}

// padding is the padding a tokenizer declares.
type padding struct {
	id   int64
	from string
	left bool
}

// padTokens are the contents a pad token has in the files people ship.
var padTokens = []string{"[PAD]", "<pad>", "<|pad|>", "<|padding|>", "<PAD>"}

// applyConfig reads tokenizer_config.json beside the file (dir; "" for
// none) for model_max_length and padding_side, and the pad id:
// tokenizer.json's padding, else tokenizer_config.json's pad_token, else
// an added token that is spelled as a pad token, else 0, which the mask
// marks.
func (t *Tokenizer) applyConfig(p *filePadding, dir string) error {
	cfg, cfgErr := readConfig(dir)
	if cfgErr != nil {
		return cfgErr
	}
	t.pad.left = p != nil && p.Direction == "Left" || p == nil && cfg.PaddingSide == "left"
	t.maxLen = cfg.ModelMaxLength
	switch {
	case p != nil && p.PadID != nil:
		t.pad.id, t.pad.from = *p.PadID, fmt.Sprintf("pad_id %d of tokenizer.json's padding", *p.PadID)
		return nil
	case cfg.PadToken != "":
		id, ok := t.TokenID(cfg.PadToken)
		if !ok {
			return fmt.Errorf("tokenizer_config.json: pad_token %q is not a token of tokenizer.json", cfg.PadToken)
		}
		t.pad.id, t.pad.from = int64(id), fmt.Sprintf("pad_token %s (id %d) of tokenizer_config.json", cfg.PadToken, id)
		return nil
	}
	for _, s := range padTokens {
		if id, ok := t.TokenID(s); ok {
			t.pad.id, t.pad.from = int64(id), fmt.Sprintf("token %s (id %d)", s, id)
			return nil
		}
	}
	t.pad.id, t.pad.from = 0, "no pad token declared: id 0, masked out"
	return nil
}

// config is the part of tokenizer_config.json Pad reads.
type config struct {
	PadToken    string
	PaddingSide string
	// ModelMaxLength is model_max_length, 0 when absent or the "very
	// large" value transformers writes when the model sets no limit.
	ModelMaxLength int
}

func readConfig(dir string) (config, error) {
	if dir == "" {
		return config{}, nil
	}
	path := filepath.Join(dir, "tokenizer_config.json")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return config{}, nil
	}
	if err != nil {
		return config{}, err
	}
	var raw struct {
		PadToken       json.RawMessage `json:"pad_token"`
		PaddingSide    string          `json:"padding_side"`
		ModelMaxLength float64         `json:"model_max_length"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return config{}, fmt.Errorf("%s: %w", path, err)
	}
	c := config{PaddingSide: raw.PaddingSide}
	if raw.ModelMaxLength >= 1 && raw.ModelMaxLength <= 1<<20 {
		c.ModelMaxLength = int(raw.ModelMaxLength)
	}
	// pad_token is a string, an AddedToken object or null.
	var obj struct {
		Content string `json:"content"`
	}
	if json.Unmarshal(raw.PadToken, &c.PadToken) != nil && json.Unmarshal(raw.PadToken, &obj) == nil {
		c.PadToken = obj.Content
	}
	return c, nil
}
