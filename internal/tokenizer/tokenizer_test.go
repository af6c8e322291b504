package tokenizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// tok builds a tokenizer from a model and optional other parts of a
// tokenizer.json, given as JSON.
func tok(t testing.TB, parts map[string]string) *Tokenizer {
	t.Helper()
	var b strings.Builder
	b.WriteString("{")
	first := true
	for k, v := range parts {
		if !first {
			b.WriteString(",")
		}
		first = false
		fmt.Fprintf(&b, "%q:%s", k, v)
	}
	b.WriteString("}")
	tk, err := Parse([]byte(b.String()))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return tk
}

// vocabOf numbers tokens in order.
func vocabOf(tokens ...string) string {
	m := map[string]int{}
	for i, s := range tokens {
		m[s] = i
	}
	b, _ := json.Marshal(m)
	return string(b)
}

func TestBPEMerges(t *testing.T) {
	model := `{"type":"BPE","vocab":` + vocabOf("a", "b", "c", "ab", "bc", "abc", "<unk>", "<0x64>", "aa", "aaa") +
		`,"merges":["a b","ab c","b c","a a","aa a"],"unk_token":"<unk>","byte_fallback":true,"fuse_unk":true}`
	tk := tok(t, map[string]string{"model": model})
	cases := []struct {
		in   string
		want []int
	}{
		{"abc", []int{5}},           // a b first (rank 0), then ab c
		{"bc", []int{4}},            //
		{"aaaa", []int{8, 8}},       // leftmost of equal ranks: (aa)(aa), not a(aaa)
		{"aaa", []int{9}},           //
		{"d", []int{7}},             // byte fallback <0x64>
		{"xyz", []int{6}},           // unknown characters, fused
		{"xaz", []int{6, 0, 6}},     // not fused across a known one
		{"cab", []int{2, 3}},        //
		{"", nil},                   //
		{"abcabc", []int{5, 5}},     //
		{"ééa", []int{6, 0}},        // é has no byte tokens: unknown
		{"bcab", []int{4, 3}},       //
		{"aaaaa", []int{8, 9}},      // (aa)(aa)a, then aa a merges the second pair
		{"abab", []int{3, 3}},       //
		{"cccc", []int{2, 2, 2, 2}}, //
	}
	for _, c := range cases {
		if got := tk.Encode(c.in).IDs; !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

// The heap used for long words merges exactly as the linear scan does.
func TestBPEHeapMatchesScan(t *testing.T) {
	model := `{"type":"BPE","vocab":` + vocabOf("a", "b", "c", "ab", "bc", "abc", "aa", "aaa", "ca", "cab") +
		`,"merges":["a b","b c","ab c","a a","aa a","c a","ca b"]}`
	tk := tok(t, map[string]string{"model": model})
	m := tk.model.(*bpe)
	words := []string{strings.Repeat("abc", 40), strings.Repeat("a", 97), strings.Repeat("cab", 33) + "aab",
		strings.Repeat("aabcab", 20)}
	for _, w := range words {
		syms := m.symbols(w)
		heap := m.mergeHeap(slices.Clone(syms))
		want := m.mergeScan(slices.Clone(syms))
		if !slices.Equal(heap, want) {
			t.Errorf("%d symbols: heap %v, scan %v", len(syms), heap, want)
		}
	}
}

func TestWordPieceBert(t *testing.T) {
	vocab := vocabOf("[PAD]", "[UNK]", "[CLS]", "[SEP]", "un", "##aff", "##able", "hello", ",", "world", "!", "中", "cafe")
	tk := tok(t, map[string]string{
		"normalizer":    `{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true}`,
		"pre_tokenizer": `{"type":"BertPreTokenizer"}`,
		"model":         `{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":10,"vocab":` + vocab + `}`,
		"post_processor": `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],` +
			`"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[2],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[3],"tokens":["[SEP]"]}}}`,
		"added_tokens": `[{"id":0,"content":"[PAD]","special":true},{"id":3,"content":"[SEP]","special":true}]`,
	})
	cases := []struct {
		in   string
		want []int
	}{
		{"Unaffable", []int{2, 4, 5, 6, 3}},
		{"HELLO,\tworld!", []int{2, 7, 8, 9, 10, 3}},
		{"Café", []int{2, 12, 3}},              // accents stripped with lowercase
		{"hello中world", []int{2, 7, 11, 9, 3}}, // CJK set apart
		{"unaffablex", []int{2, 1, 3}},         // a piece missing: the whole word is unknown
		{"unaffableunaffable", []int{2, 1, 3}}, // longer than max_input_chars_per_word
		{"hello[SEP]world", []int{2, 7, 3, 9, 3}},
		{"hel\x00lo\u200b", []int{2, 7, 3}}, // control and format characters removed
		{"", []int{2, 3}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.in).IDs; !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
	if !tk.HasTypes() {
		t.Errorf("TemplateProcessing gives token types")
	}
}

func TestUnigramViterbi(t *testing.T) {
	vocab := `[["<unk>",0],["▁",-2],["▁he",-3],["llo",-3],["▁hello",-5],["h",-4],["e",-4],["l",-4],["o",-4],["▁hell",-3.5],["<0x21>",-1]]`
	tk := tok(t, map[string]string{
		"pre_tokenizer": `{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`,
		"model":         `{"type":"Unigram","unk_id":0,"byte_fallback":false,"vocab":` + vocab + `}`,
	})
	cases := []struct {
		in   string
		want []int
	}{
		{"hello", []int{4}}, // ▁hello (-5) beats ▁he+llo (-6) and ▁hell+o (-7.5)
		{"hello  he", []int{4, 1, 2}},
		{"xy", []int{1, 0}}, // unknowns in a row are one token
		{"hxe", []int{1, 5, 0, 6}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.in).IDs; !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

// TestDuplicatePieces: a Unigram vocabulary may list a piece twice (XLM-R's
// converter puts <pad> and <mask> first and last, and a model that has them
// too keeps its own); both references then use the last id, for the
// model's pieces and for an added token listed twice.
func TestDuplicatePieces(t *testing.T) {
	tk := tok(t, map[string]string{
		"pre_tokenizer": `{"type":"Metaspace","replacement":"▁","prepend_scheme":"always","split":true}`,
		"model":         `{"type":"Unigram","unk_id":0,"vocab":[["<unk>",0],["<pad>",0],["▁a",-1],["<pad>",0],["▁",-2],["▁a",-1]]}`,
		"added_tokens":  `[{"id":1,"content":"<pad>","special":true},{"id":3,"content":"<pad>","special":true}]`,
	})
	cases := []struct {
		in   string
		want []int
	}{
		{"<pad>", []int{3}},
		{"a<pad>a", []int{5, 3, 5}},
		{"a", []int{5}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.in).IDs; !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
	if id, _ := tk.TokenID("<pad>"); id != 3 {
		t.Errorf("TokenID(<pad>) = %d, want 3", id)
	}
}

func TestAddedTokens(t *testing.T) {
	tk := tok(t, map[string]string{
		"pre_tokenizer": `{"type":"WhitespaceSplit"}`,
		"model":         `{"type":"WordLevel","unk_token":"?","vocab":` + vocabOf("?", "a", "b", "<x>", "tok", "atok") + `}`,
		"added_tokens": `[{"id":3,"content":"<x>","lstrip":true,"rstrip":true,"special":true},` +
			`{"id":4,"content":"tok","single_word":true,"special":false},{"id":10,"content":"<xy>","special":true}]`,
	})
	cases := []struct {
		in   string
		want []int
	}{
		{"a  <x>  b", []int{1, 3, 2}},
		{"a tok b", []int{1, 4, 2}},
		{"atok b", []int{5, 2}},     // tok inside a word is no single word
		{"a<xy>b", []int{1, 10, 2}}, // the longest added token wins over <x>
		{"<x><x>", []int{3, 3}},
	}
	for _, c := range cases {
		if got := tk.Encode(c.in).IDs; !slices.Equal(got, c.want) {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestSplitBehaviors(t *testing.T) {
	segs := func(s string) []segment { return segments(s, findLiteral(s, "-"), false) }
	cases := []struct {
		b    behavior
		in   string
		want []string
	}{
		{removed, "a-b--c-", []string{"a", "b", "c"}},
		{isolated, "a-b--c", []string{"a", "-", "b", "-", "-", "c"}},
		{mergedWithPrevious, "a-b--c", []string{"a-", "b-", "-", "c"}},
		{mergedWithNext, "a-b--c", []string{"a", "-b", "-", "-c"}},
		{contiguous, "a-b--c", []string{"a", "-", "b", "--", "c"}},
		{mergedWithNext, "--a", []string{"-", "-a"}},
	}
	for _, c := range cases {
		var got []string
		for _, p := range c.b.apply(piece{c.in, true}, segs(c.in)) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%d on %q: got %q, want %q", c.b, c.in, got, c.want)
		}
	}
}

func TestMetaspaceSchemes(t *testing.T) {
	for _, c := range []struct {
		scheme string
		want   []string
	}{
		{"always", []string{"▁a", "▁b", "▁c"}},
		{"first", []string{"▁a", "▁b", "c"}},
		{"never", []string{"a", "▁b", "c"}},
	} {
		m, err := newMetaspace(preConfig{Replacement: "▁", PrependScheme: c.scheme})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, p := range m.split(piece{"a b", true}, m.split(piece{"c", false}, nil)[:0]) {
			got = append(got, p.s)
		}
		for _, p := range m.split(piece{"c", false}, nil) {
			got = append(got, p.s)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("prepend_scheme %s: got %q, want %q", c.scheme, got, c.want)
		}
	}
}

// A component this package does not implement is refused naming it.
func TestRefusesUnknownComponents(t *testing.T) {
	model := `{"type":"WordLevel","unk_token":"a","vocab":{"a":0}}`
	cases := []struct {
		parts map[string]string
		want  string
	}{
		{map[string]string{"model": `{"type":"Mystery"}`}, `model "Mystery" is not supported`},
		{map[string]string{"model": model, "normalizer": `{"type":"Fancy"}`}, `normalizer "Fancy" is not supported`},
		{map[string]string{"model": model, "pre_tokenizer": `{"type":"UnicodeScripts"}`}, `pre_tokenizer "UnicodeScripts" is not supported`},
		{map[string]string{"model": model, "post_processor": `{"type":"Odd"}`}, `post_processor "Odd" is not supported`},
		{map[string]string{"model": `{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}`}, "dropout 0.1"},
		{map[string]string{"model": `{"type":"BPE","vocab":{"a":0},"merges":["a b"]}`}, `merge 0 ["a" "b"]: a token is not in the vocabulary`},
		{map[string]string{"model": `{"type":"Unigram","vocab":[["a",0]]}`}, "no unk_id"},
		{map[string]string{"model": model, "pre_tokenizer": `{"type":"Split","pattern":{"Regex":"(unclosed"},"behavior":"Isolated"}`}, "regex"},
	}
	for _, c := range cases {
		var b strings.Builder
		enc := json.NewEncoder(&b)
		raw := map[string]json.RawMessage{}
		for k, v := range c.parts {
			raw[k] = json.RawMessage(v)
		}
		enc.Encode(raw)
		_, err := Parse([]byte(b.String()))
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: error %v, want one line containing %q", c.parts, err, c.want)
		}
	}
}

func TestReadLinesAndPad(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.txt")
	os.WriteFile(good, []byte("a b\r\n\nb\n"), 0o644)
	lines, err := ReadLines(good)
	if err != nil || !slices.Equal(lines, []string{"a b\r", "", "b"}) {
		t.Fatalf("ReadLines: %q, %v", lines, err)
	}
	blank := filepath.Join(dir, "blank.txt")
	os.WriteFile(blank, []byte("\n"), 0o644)
	if lines, err := ReadLines(blank); err != nil || !slices.Equal(lines, []string{""}) {
		t.Errorf("a lone newline: %q, %v; want one empty line", lines, err)
	}
	bad := filepath.Join(dir, "bad.txt")
	os.WriteFile(bad, []byte("ok\nfine\nbad \xff here\n"), 0o644)
	if _, err := ReadLines(bad); err == nil || !strings.Contains(err.Error(), "bad.txt: line 3 is not valid UTF-8 (byte 5)") {
		t.Errorf("invalid UTF-8: %v", err)
	}
	tk := tok(t, map[string]string{
		"pre_tokenizer": `{"type":"WhitespaceSplit"}`,
		"model":         `{"type":"WordLevel","unk_token":"?","vocab":` + vocabOf("?", "a", "b", "<pad>", "<s>") + `}`,
		"post_processor": `{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"<s>","type_id":0}},{"Sequence":{"id":"A","type_id":1}}],` +
			`"special_tokens":{"<s>":{"id":"<s>","ids":[4],"tokens":["<s>"]}}}`,
	})
	encs, cut, err := tk.EncodeAll([]string{"a b a", "b", "a a a a"}, 3, 2)
	if err != nil || cut != 2 {
		t.Fatalf("EncodeAll: cut %d, %v", cut, err)
	}
	b := tk.Pad(encs, 0)
	wantIDs := []int64{4, 1, 2, 4, 2, 3, 4, 1, 1}
	wantMask := []int64{1, 1, 1, 1, 1, 0, 1, 1, 1}
	wantTypes := []int64{0, 1, 1, 0, 1, 0, 0, 1, 1}
	if b.Rows != 3 || b.Len != 3 || !slices.Equal(b.IDs, wantIDs) || !slices.Equal(b.Mask, wantMask) || !slices.Equal(b.TypeIDs, wantTypes) {
		t.Errorf("Pad: %+v", b)
	}
	if b.PadID != 3 || !strings.Contains(b.PadFrom, "<pad>") {
		t.Errorf("pad id %d from %q, want the <pad> token, 3", b.PadID, b.PadFrom)
	}
	if _, _, err := tk.EncodeAll([]string{"a"}, 1, 1); err == nil {
		t.Errorf("max length 1 beside one special token: no error")
	}
}
