package inputs

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/tokenizer"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Text is a text file to tokenize into a model's inputs.
type Text struct {
	// File holds one sequence a line.
	File string
	// Tokenizer is the tokenizer.json; "" means the one beside the model.
	Tokenizer string
	// MaxLength cuts longer sequences (0: the ids input's static length,
	// else the rows of the model's position table, else
	// tokenizer_config.json's model_max_length, else no limit).
	MaxLength int
}

// Assigned says what one input got from text.
type Assigned struct {
	Input string `json:"input"`
	What  string `json:"what"`
}

// Files are the places a command reads a model's inputs from: .npy/.npz
// specs (LoadFor) and a text file, which give different inputs.
type Files struct {
	Specs []string
	Text  Text
	// TextFlag names the text's flag in messages ("--inputs-text").
	TextFlag string
}

// Read reads the inputs f names for the model whose roles are r.
func Read(r *roles.Roles, f Files) (map[string]model.HostTensor, []Assigned, error) {
	out, err := LoadFor(r, f.Specs)
	if err != nil || f.Text.File == "" {
		return out, nil, err
	}
	text, got, err := LoadText(r, f.Text)
	if err != nil {
		return nil, nil, err
	}
	for _, in := range r.Inputs { // in order, so that the message is the same each run
		t, ok := text[in.Name]
		if !ok {
			continue
		}
		if _, dup := out[in.Name]; dup {
			return nil, nil, fmt.Errorf("%s: input %q is given by a file and by the text %s; give it once", r.Path, in.Name, f.Text.File)
		}
		out[in.Name] = t
	}
	return out, got, nil
}

// TokenizerFor returns the tokenizer.json a text uses for the model at
// modelPath: the one given, else tokenizer.json beside the model.
func TokenizerFor(modelPath, given string) (string, error) {
	if given != "" {
		return given, nil
	}
	p := filepath.Join(filepath.Dir(modelPath), "tokenizer.json")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%s: text inputs need a tokenizer: no tokenizer.json beside the model; give --tokenizer FILE", modelPath)
	}
	return p, nil
}

// LoadText tokenizes t.File, one sequence a line, into the model's ids
// input and, where the model has them, its attention mask and token types
// (matched by role, roles.Detect). Position ids and other inputs are left
// to be made by role. Each row is padded to the longest line, or to the
// ids input's static length, which also cuts longer lines.
func LoadText(r *roles.Roles, t Text) (map[string]model.HostTensor, []Assigned, error) {
	ids, err := textIDsInput(r)
	if err != nil {
		return nil, nil, err
	}
	tokPath, err := TokenizerFor(r.Path, t.Tokenizer)
	if err != nil {
		return nil, nil, err
	}
	maxLen, padTo, why, err := textLimit(r, ids, t.MaxLength)
	if err != nil {
		return nil, nil, err
	}
	res, err := tokenizer.TokenizeFile(tokPath, t.File, maxLen, 0)
	if err != nil {
		return nil, nil, err
	}
	b := res.Tokenizer.Pad(res.Encodings, padTo)
	if err := checkRange(r, ids, tokPath, b.IDs); err != nil {
		return nil, nil, err
	}
	what := fmt.Sprintf("ids of %d lines of %s (%s), padded to %d with %s", res.Lines, t.File, tokPath, b.Len, b.PadFrom)
	if maxLen < 0 {
		why = "model_max_length of tokenizer_config.json"
	}
	if res.MaxLen > 0 {
		what += fmt.Sprintf("; at most %d ids (%s): %d lines cut", res.MaxLen, why, res.Truncated)
	}
	arrays := map[string]textArray{ids.Name: {b.IDs, what}}
	for _, in := range r.Inputs {
		if in.With != ids.Name && in.With != "" {
			continue
		}
		switch {
		case in.Kind == roles.Mask:
			arrays[in.Name] = textArray{b.Mask, "attention mask of the text: 1 for a token, 0 for padding"}
		case in.Kind == roles.TokenTypes && b.TypeIDs != nil:
			arrays[in.Name] = textArray{b.TypeIDs, "token types of the text, from the tokenizer's post-processor"}
		}
	}
	out := map[string]model.HostTensor{}
	var got []Assigned
	for _, in := range r.Inputs {
		a, ok := arrays[in.Name]
		if !ok {
			continue
		}
		ht, err := convert(t.File, npy.FromInt64([]int{b.Rows, b.Len}, a.v), r, in)
		if err != nil {
			return nil, nil, err
		}
		out[in.Name] = ht
		got = append(got, Assigned{in.Name, a.what})
	}
	return out, got, nil
}

// textIDsInput is the ids input text fills: the model's one ids input, or
// the one named input_ids.
func textIDsInput(r *roles.Roles) (roles.Input, error) {
	var ids []roles.Input
	for _, in := range r.Inputs {
		if in.Kind == roles.IDs {
			ids = append(ids, in)
		}
	}
	if len(ids) == 1 {
		return ids[0], nil
	}
	for _, in := range ids {
		if in.Name == "input_ids" {
			return in, nil
		}
	}
	names := make([]string, len(ids))
	for i, in := range ids {
		names[i] = in.Name
	}
	if len(ids) == 0 {
		return roles.Input{}, fmt.Errorf("%s: text needs an ids input (token ids reaching a table), and the model has none", r.Path)
	}
	return roles.Input{}, fmt.Errorf("%s: the model has %d ids inputs %q and none is input_ids: give their ids as NAME=FILE.npy", r.Path, len(ids), names)
}

// textLimit is the longest sequence text may give the ids input: --max-length,
// or the input's static length (which rows are also padded to), or the
// rows of the model's position table; -1 leaves it to the tokenizer's
// model_max_length. why says which.
func textLimit(r *roles.Roles, ids roles.Input, flag int) (maxLen, padTo int, why string, err error) {
	n := staticLen(ids)
	switch {
	case n > 0 && flag > n:
		return 0, 0, "", fmt.Errorf("%s: input %q takes sequences of %d ids; --max-length %d is longer", r.Path, ids.Name, n, flag)
	case n > 0:
		return n, n, fmt.Sprintf("the static length of input %s", ids.Name), nil
	case flag > 0:
		return flag, 0, "--max-length", nil
	case r.MaxPositions > 0:
		// A longer sequence would index past the position table.
		return int(r.MaxPositions), 0, "the rows of the model's position table", nil
	}
	return -1, 0, "", nil
}

// staticLen is the static length of a [batch, seq] ids input, 0 if dynamic.
func staticLen(in roles.Input) int {
	if len(in.Shape) == 2 && in.Shape[1] > 0 && (len(in.DimParams) < 2 || in.DimParams[1] == "") {
		return int(in.Shape[1])
	}
	return 0
}

// checkRange refuses ids beyond the table the input indexes: the tokenizer
// is then not the model's.
func checkRange(r *roles.Roles, in roles.Input, tokPath string, ids []int64) error {
	if in.Rows <= 0 || len(ids) == 0 {
		return nil
	}
	if hi := slices.Max(ids); hi >= in.Rows {
		return fmt.Errorf("%s: %s gives id %d, but input %q indexes table %s of %d rows: is it this model's tokenizer?", r.Path, tokPath, hi, in.Name, in.Table, in.Rows)
	}
	return nil
}

// textArray is one input's values from text and what they are.
type textArray struct {
	v    []int64
	what string
}
