package tokenizer

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"sort"
	"strings"
	"testing"
)

// daBuild builds a charsmap blob (trie size, darts-clone double array,
// NUL-ended replacements) holding rules, by the simplest placement: each
// node's children go at the first base whose slots are all free.
func daBuild(t testing.TB, rules map[string]string) []byte {
	t.Helper()
	keys := make([]string, 0, len(rules))
	for k := range rules {
		if k == "" || strings.IndexByte(k, 0) >= 0 {
			t.Fatalf("daBuild: key %q is empty or holds NUL", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var repl bytes.Buffer
	values := map[string]uint32{}
	for _, k := range keys {
		values[k] = uint32(repl.Len())
		repl.WriteString(rules[k])
		repl.WriteByte(0)
	}
	b := &daBuilder{units: make([]uint32, 1), used: []bool{true}}
	b.node(0, keys, 0, values)
	out := binary.LittleEndian.AppendUint32(nil, uint32(4*len(b.units)))
	for _, u := range b.units {
		out = binary.LittleEndian.AppendUint32(out, u)
	}
	return append(out, repl.Bytes()...)
}

type daBuilder struct {
	units []uint32
	used  []bool
}

// node places the children of the node at unit idx: keys share their first
// depth bytes; a key of exactly depth bytes ends here (label 0).
func (b *daBuilder) node(idx int, keys []string, depth int, values map[string]uint32) {
	var labels []int
	for _, k := range keys {
		l := 0
		if len(k) > depth {
			l = int(k[depth])
		}
		if len(labels) == 0 || labels[len(labels)-1] != l {
			labels = append(labels, l)
		}
	}
	base := 1
	for !b.free(base, labels) {
		base++
	}
	b.units[idx] |= uint32(idx^base) << 10
	for _, l := range labels {
		b.grow(base ^ l)
		b.used[base^l] = true
	}
	for _, l := range labels {
		var group []string
		for _, k := range keys {
			if (len(k) == depth && l == 0) || (len(k) > depth && int(k[depth]) == l) {
				group = append(group, k)
			}
		}
		if l == 0 {
			b.units[idx] |= 1 << 8
			b.units[base] = 1<<31 | values[group[0]]
			continue
		}
		b.units[base^l] = uint32(l)
		b.node(base^l, group, depth+1, values)
	}
}

func (b *daBuilder) free(base int, labels []int) bool {
	for _, l := range labels {
		if p := base ^ l; p < len(b.used) && b.used[p] {
			return false
		}
	}
	return true
}

func (b *daBuilder) grow(p int) {
	for len(b.units) <= p {
		b.units = append(b.units, 0)
		b.used = append(b.used, false)
	}
}

// synthRules is a small charsmap with the shapes real ones have: single
// characters, multi-character keys, a key that prefixes a longer one, ASCII
// keys and replacements that are empty.
var synthRules = map[string]string{
	"ﬁ":             "fi",
	"①":             "1",
	"\u00a0":        " ",
	"\r":            " ",
	"\n":            " ",
	"\x01":          "",
	"e\u0301":       "é",
	"Ａ":             "A",
	"Ａ\u0301":       "Á",
	"\u200b":        "",
	"ｶ":             "カ",
	"\uff9e":        "\u3099",
	"Ⅻ":             "XII",
	"\U0001d400":    "A",
	"x\u0301\u0301": "never", // 5 bytes: only reachable as a whole grapheme
}

func TestPrecompiledSynthetic(t *testing.T) {
	n, err := newPrecompiled(base64.StdEncoding.EncodeToString(daBuild(t, synthRules)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ name, in, want string }{
		{"empty", "", ""},
		{"untouched", "plain ascii, καλημέρα", "plain ascii, καλημέρα"},
		{"ligature", "ﬁne", "fine"},
		{"circled digit", "①②", "1②"},
		{"roman numeral", "Ⅻ.", "XII."},
		{"astral", "\U0001d400b", "Ab"},
		{"removed", "a\x01b\u200bc", "abc"},
		{"nbsp", "a\u00a0b", "a b"},
		{"CR and LF apart", "a\rb\nc", "a b c"},
		// CR LF is one grapheme of 2 bytes: the shortest key prefixing
		// it ("\r") replaces it all, so LF is dropped.
		{"CR LF", "a\r\nb", "a b"},
		{"whole grapheme key", "cafe\u0301", "café"},
		// The shortest prefix wins over the longer key "Ａ\u0301".
		{"shortest prefix", "Ａ\u0301", "A"},
		// A short grapheme whose prefix matches loses the rest of it.
		{"accent dropped", "ﬁ\u0301x", "fix"},
		// 6 bytes or more: character by character, the accent kept.
		{"long grapheme", "ﬁ\u0301\u0301", "fi\u0301\u0301"},
		{"long grapheme key", "ｶ\uff9e", "カ\u3099"},
		{"five-byte key", "x\u0301\u0301", "never"},
		{"NUL ends the key", "\x00\u0301", "\x00\u0301"},
		{"invalid UTF-8 kept", "\xffﬁ\xfe", "\xfffi\xfe"},
	}
	for _, c := range cases {
		if got := n.normalize(c.in); got != c.want {
			t.Errorf("%s: normalize(%+q) = %+q, want %+q", c.name, c.in, got, c.want)
		}
	}
}

func TestPrecompiledMalformed(t *testing.T) {
	good := daBuild(t, synthRules)
	withSize := func(size uint32, rest []byte) string {
		return base64.StdEncoding.EncodeToString(append(binary.LittleEndian.AppendUint32(nil, size), rest...))
	}
	trieLen := binary.LittleEndian.Uint32(good)
	// A copy whose replacement strings are cut before the last ones, so
	// that some values point past them.
	cut := append([]byte(nil), good[:4+trieLen+2]...)
	// A copy whose first replacement starts with a stray continuation byte.
	badUTF8 := append([]byte(nil), good...)
	badUTF8[4+trieLen] = 0x80
	// A root whose children are far past the array.
	farRoot := append([]byte(nil), good...)
	binary.LittleEndian.PutUint32(farRoot[4:], 1<<20<<10)
	cases := []struct{ name, charsmap, want string }{
		{"not base64", "@@@", "not base64"},
		{"empty", "", "too short"},
		{"zero trie", withSize(0, nil), "trie is empty"},
		{"odd trie size", withSize(6, make([]byte, 8)), "not a multiple of 4"},
		{"trie past the end", withSize(400, make([]byte, 8)), "more than the 8 bytes"},
		{"values past the strings", base64.StdEncoding.EncodeToString(cut), "past the 2 bytes"},
		{"strings not UTF-8", base64.StdEncoding.EncodeToString(badUTF8), "not valid UTF-8"},
	}
	for _, c := range cases {
		_, err := newPrecompiled(c.charsmap)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: err = %v, want one line containing %q", c.name, err, c.want)
		}
	}
	// A root pointing nowhere holds no keys: valid, and changes nothing.
	n, err := newPrecompiled(base64.StdEncoding.EncodeToString(farRoot))
	if err != nil {
		t.Fatalf("far root: %v", err)
	}
	if got := n.normalize("ﬁ①"); got != "ﬁ①" {
		t.Errorf("far root: normalize = %q, want it unchanged", got)
	}
}

func FuzzPrecompiled(f *testing.F) {
	f.Add(daBuild(f, synthRules), "ﬁ\u0301 a\r\nb ①")
	f.Add([]byte{8, 0, 0, 0, 0, 4, 0, 0, 0x41, 1, 0, 0, 'x', 0}, "A")
	f.Fuzz(func(t *testing.T, blob []byte, text string) {
		n, err := newPrecompiled(base64.StdEncoding.EncodeToString(blob))
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error on more than one line: %q", err)
			}
			return
		}
		n.normalize(text)
	})
}
