package tokenizer

import (
	"testing"
	"unicode/utf8"
)

// FuzzEncode runs every model over arbitrary text (invalid UTF-8 too):
// no panic, and ids only from the vocabulary or the added tokens.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"", "hello world", "  a\tb\r\n", "héllo ▁x", "\xff\xfe", "<s>a</s>", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"} {
		f.Add(s)
	}
	vocab := vocabOf("<unk>", "a", "b", "h", "e", "l", "o", "he", "ll", "hell", "hello", "▁", "▁a", "Ġ", "Ġa", "<0x41>", "<s>")
	toks := map[string]map[string]string{
		"bytelevel": {"pre_tokenizer": `{"type":"ByteLevel","add_prefix_space":true,"use_regex":true}`,
			"model": `{"type":"BPE","vocab":` + vocab + `,"merges":["h e","l l","he ll","hell o","Ġ a"]}`},
		"spbpe": {"normalizer": `{"type":"Sequence","normalizers":[{"type":"Prepend","prepend":"▁"},{"type":"Replace","pattern":{"String":" "},"content":"▁"}]}`,
			"model":        `{"type":"BPE","vocab":` + vocab + `,"merges":["h e","▁ a"],"unk_token":"<unk>","byte_fallback":true,"fuse_unk":true}`,
			"added_tokens": `[{"id":16,"content":"<s>","special":true}]`},
		"unigram": {"normalizer": `{"type":"NFKC"}`, "pre_tokenizer": `{"type":"Metaspace","replacement":"▁","prepend_scheme":"first"}`,
			"model": `{"type":"Unigram","unk_id":0,"byte_fallback":true,"vocab":[["<unk>",0],["▁",-1],["a",-2],["▁a",-1.5],["<0x41>",-3]]}`},
		"wordpiece": {"normalizer": `{"type":"BertNormalizer"}`, "pre_tokenizer": `{"type":"BertPreTokenizer"}`,
			"model": `{"type":"WordPiece","unk_token":"<unk>","vocab":` + vocab + `}`},
	}
	built := map[string]*Tokenizer{}
	for name, parts := range toks {
		built[name] = tok(f, parts)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for name, tk := range built {
			for _, id := range tk.Encode(s).IDs {
				if id < 0 || id > 16 {
					t.Fatalf("%s on %q: id %d outside the vocabulary", name, s, id)
				}
			}
		}
		_ = utf8.ValidString(s)
	})
}
