package tokenizer

import (
	"bytes"
	"fmt"
	"os"
	"runtime"
	"sync"
	"unicode/utf8"
)

// ReadLines reads a text file of one sequence a line. Lines end at "\n"
// only, as the references split them: a "\r" before it (a Windows line
// end) is part of the line, which most tokenizers read as whitespace; a
// final "\n" ends the last line rather than starting an empty one. A line
// that is not valid UTF-8 is an error naming it.
func ReadLines(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) == 0 {
		return nil, fmt.Errorf("%s: empty: no lines to tokenize", path)
	}
	b = bytes.TrimSuffix(b, []byte("\n")) // "\n" alone is one empty line
	raw := bytes.Split(b, []byte("\n"))
	lines := make([]string, len(raw))
	for i, l := range raw {
		if !utf8.Valid(l) {
			return nil, fmt.Errorf("%s: line %d is not valid UTF-8 (byte %d)", path, i+1, invalidAt(l)+1)
		}
		lines[i] = string(l)
	}
	return lines, nil
}

// invalidAt returns the offset of the first byte of b that is not UTF-8.
func invalidAt(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// EncodeAll encodes every line with the special tokens the post-processor
// adds; a line longer than maxLen ids (0: no limit) loses ids at its end
// before the special tokens are added, so that they stay, as the
// tokenizers library truncates. Lines are encoded on up to threads
// goroutines (0: all CPUs); the result does not depend on it.
func (t *Tokenizer) EncodeAll(lines []string, maxLen, threads int) ([]Encoding, int, error) {
	special := 0
	if t.post != nil {
		special = len(t.post.process(Encoding{}).IDs)
	}
	if maxLen > 0 && maxLen <= special {
		return nil, 0, fmt.Errorf("max length %d leaves no room beside the %d special tokens the post-processor adds", maxLen, special)
	}
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	out := make([]Encoding, len(lines))
	cut := make([]bool, len(lines))
	var wg sync.WaitGroup
	for w := range threads {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(lines); i += threads {
				ids := t.ids(lines[i])
				if maxLen > 0 && len(ids)+special > maxLen {
					ids, cut[i] = ids[:maxLen-special], true
				}
				out[i] = t.process(ids)
			}
		}()
	}
	wg.Wait()
	n := 0
	for _, c := range cut {
		if c {
			n++
		}
	}
	return out, n, nil
}

func (t *Tokenizer) process(ids []int) Encoding {
	e := Encoding{IDs: ids}
	if t.post != nil {
		e = t.post.process(e)
	}
	return e
}

// FileResult is a text file tokenized.
type FileResult struct {
	Tokenizer *Tokenizer
	Lines     int
	Encodings []Encoding
	// Truncated counts the lines cut to MaxLen, the limit applied (0:
	// none).
	Truncated, MaxLen int
}

// TokenizeFile tokenizes each line of textPath with the tokenizer.json at
// tokenizerPath (see ReadLines and EncodeAll). maxLen -1 means the model's
// own limit (ModelMaxLength), if it has one.
func TokenizeFile(tokenizerPath, textPath string, maxLen, threads int) (*FileResult, error) {
	t, err := Load(tokenizerPath)
	if err != nil {
		return nil, err
	}
	if maxLen < 0 {
		maxLen = t.ModelMaxLength()
	}
	lines, err := ReadLines(textPath)
	if err != nil {
		return nil, err
	}
	encs, cut, err := t.EncodeAll(lines, maxLen, threads)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", tokenizerPath, err)
	}
	return &FileResult{Tokenizer: t, Lines: len(lines), Encodings: encs, Truncated: cut, MaxLen: maxLen}, nil
}
