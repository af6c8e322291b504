package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

const installRefs = "scripts/install-tokenizer-refs.sh"

// refCache is where scripts/install-tokenizer-refs.sh puts real tokenizer
// files and the reference implementations.
func refCache(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("EMBSHRINK_CACHE")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			t.Skipf("no home directory for the reference cache (%v); set EMBSHRINK_CACHE", err)
		}
		dir = filepath.Join(home, ".cache", "embshrink")
	}
	return filepath.Join(dir, "tokref")
}

type realCharsmap struct{ file, b64 string }

// realCharsmaps finds the precompiled charsmaps of the real tokenizer files
// in the cache: tokenizer.json files with a Precompiled normalizer and
// SentencePiece .model files (whose normalizer spec holds the same blob).
func realCharsmaps(t testing.TB) []realCharsmap {
	t.Helper()
	root := refCache(t)
	var found []realCharsmap
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "node_modules" {
			return filepath.SkipDir
		}
		var b64 string
		switch {
		case d.Name() == "tokenizer.json":
			b64, err = jsonCharsmap(path)
		case strings.HasSuffix(d.Name(), ".model"):
			b64, err = spmCharsmap(path)
		}
		if err != nil {
			return err
		}
		if b64 != "" {
			found = append(found, realCharsmap{path, b64})
		}
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	if len(found) == 0 {
		t.Skipf("no tokenizer.json with a Precompiled normalizer (nor SentencePiece .model) under %s; %s installs them", root, installRefs)
	}
	return found
}

// jsonCharsmap is the charsmap of a tokenizer.json's Precompiled
// normalizer, on its own or in a Sequence ("" if it has none).
func jsonCharsmap(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !bytes.Contains(data, []byte(`"Precompiled"`)) {
		return "", nil // most files: no need to decode up to 33 MB of JSON
	}
	type norm struct {
		Type        string  `json:"type"`
		Charsmap    *string `json:"precompiled_charsmap"`
		Normalizers []norm  `json:"normalizers"`
	}
	var doc struct {
		Normalizer *norm `json:"normalizer"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	var find func(n *norm) string
	find = func(n *norm) string {
		if n == nil {
			return ""
		}
		if n.Type == "Precompiled" && n.Charsmap != nil {
			return *n.Charsmap
		}
		for i := range n.Normalizers {
			if s := find(&n.Normalizers[i]); s != "" {
				return s
			}
		}
		return ""
	}
	return find(doc.Normalizer), nil
}

// spmCharsmap reads ModelProto.normalizer_spec (field 3)
// .precompiled_charsmap (field 2) from a SentencePiece model file.
func spmCharsmap(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	field := func(b []byte, want protowire.Number) ([]byte, error) {
		for len(b) > 0 {
			num, typ, n := protowire.ConsumeTag(b)
			if n < 0 {
				return nil, fmt.Errorf("%s: bad protobuf tag", path)
			}
			b = b[n:]
			if num == want && typ == protowire.BytesType {
				v, m := protowire.ConsumeBytes(b)
				if m < 0 {
					return nil, fmt.Errorf("%s: bad protobuf field %d", path, num)
				}
				return v, nil
			}
			m := protowire.ConsumeFieldValue(num, typ, b)
			if m < 0 {
				return nil, fmt.Errorf("%s: bad protobuf field %d", path, num)
			}
			b = b[m:]
		}
		return nil, nil
	}
	spec, err := field(data, 3)
	if err != nil || spec == nil {
		return "", err
	}
	cm, err := field(spec, 2)
	if err != nil || len(cm) == 0 {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(cm), nil
}

// TestPrecompiledReal checks rewrites that SentencePiece's nmt_nfkc
// charsmaps make; the outputs are those of Hugging Face's tokenizers 0.23.2
// (npm tokenizers) on XLNet's charsmap.
func TestPrecompiledReal(t *testing.T) {
	cases := []struct{ in, want string }{
		{"ﬁnancial ﬂow", "financial flow"},
		{"①②③ ⑩", "123 10"},
		{"Ⅻ Ⅳ ⅷ", "XII IV viii"},
		{"ＡＢＣ１２３！", "ABC123!"},
		{"ｶﾀｶﾅ", "カタカナ"},
		{"a\u00a0b\u3000c\u2009d", "a b c d"},
		{"x²+y³", "x2+y3"},
		{"㎏ ㍻ ℃", "kg 平成 °C"},
		{"ﻻ ﷺ", "لا صلى الله عليه وسلم"},
		{"\U0001d400\U0001d7ce", "A0"},
		{"Cafe\u0301 na\u0308ive", "Café näive"},
		// Conjoining jamo are not composed (transformers.js's NFKC does).
		{"한국어 \u1112\u1161\u11ab", "한국어 \u1112\u1161\u11ab"},
		// ZWJ becomes a space, even inside an emoji sequence.
		{"👩\u200d👩\u200d👧 🇫🇷 ❤️", "👩 👩 👧 🇫🇷 ❤️"},
		{"plain ascii stays", "plain ascii stays"},
		// Hugging Face's rule: a grapheme under 6 bytes takes the
		// replacement of its shortest matching prefix, whole.
		{"ﬁ\u0301", "fi"},
		{"a\r\nb", "a b"},
		{"²\u0301", "2"},
		// 6 bytes: character by character.
		{"ｶﾞ", "カ\u3099"},
	}
	for _, cm := range realCharsmaps(t) {
		n, err := newPrecompiled(cm.b64)
		if err != nil {
			t.Errorf("%s: %v", cm.file, err)
			continue
		}
		for _, c := range cases {
			if got := n.normalize(c.in); got != c.want {
				t.Errorf("%s: normalize(%+q) = %+q, want %+q", cm.file, c.in, got, c.want)
			}
		}
	}
}

// refScript prints what Hugging Face's Rust tokenizers (npm tokenizers)
// makes of each JSON string line, with the given charsmap.
const refScript = `
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
const [nodeModules, b64File, inFile, outFile] = process.argv.slice(2);
const tk = createRequire(path.join(nodeModules, "..", "package.json"))("tokenizers");
const norm = tk.precompiled(Array.from(Buffer.from(fs.readFileSync(b64File, "utf8"), "base64")));
const out = fs.readFileSync(inFile, "utf8").split("\n").filter((l) => l !== "")
  .map((l) => JSON.stringify(norm.normalizeString(JSON.parse(l))));
fs.writeFileSync(outFile, out.join("\n") + "\n");
`

// TestPrecompiledMatchesTokenizers compares every string of
// precompiledCorpus with Hugging Face's Rust tokenizers, run through its
// Node binding. EMBSHRINK_PRECOMPILED_EXHAUSTIVE=1 adds every code point.
func TestPrecompiledMatchesTokenizers(t *testing.T) {
	maps := realCharsmaps(t)
	nodeModules := filepath.Join(refCache(t), "node", "node_modules")
	if _, err := os.Stat(filepath.Join(nodeModules, "tokenizers", "package.json")); err != nil {
		t.Skipf("npm tokenizers is not installed under %s; %s installs it", nodeModules, installRefs)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skipf("node is not on PATH (%v); %s installs the references", err, installRefs)
	}
	corpus := precompiledCorpus(os.Getenv("EMBSHRINK_PRECOMPILED_EXHAUSTIVE") == "1")
	dir := t.TempDir()
	var in bytes.Buffer
	for _, s := range corpus {
		line, _ := json.Marshal(s)
		in.Write(append(line, '\n'))
	}
	for name, data := range map[string][]byte{"ref.mjs": []byte(refScript), "in.jsonl": in.Bytes()} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, cm := range maps {
		n, err := newPrecompiled(cm.b64)
		if err != nil {
			t.Errorf("%s: %v", cm.file, err)
			continue
		}
		b64File, outFile := filepath.Join(dir, "charsmap.b64"), filepath.Join(dir, "out.jsonl")
		if err := os.WriteFile(b64File, []byte(cm.b64), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(node, filepath.Join(dir, "ref.mjs"), nodeModules, b64File, filepath.Join(dir, "in.jsonl"), outFile)
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", cmd, err, msg)
		}
		want := readJSONLines(t, outFile)
		if len(want) != len(corpus) {
			t.Fatalf("%s: the reference gave %d lines for %d strings", cm.file, len(want), len(corpus))
		}
		same, diff := 0, 0
		for i, s := range corpus {
			if got := n.normalize(s); got == want[i] {
				same++
			} else if diff++; diff <= 10 {
				t.Errorf("%s: normalize(%+q) = %+q, tokenizers gives %+q", cm.file, s, got, want[i])
			}
		}
		t.Logf("%s: %d of %d strings identical to tokenizers", cm.file, same, len(corpus))
	}
}

func readJSONLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var s string
		if err := json.Unmarshal(sc.Bytes(), &s); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		out = append(out, s)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkPrecompiled normalizes the multilingual sentences with the
// first real charsmap: the MB/s figure is the throughput on one core.
func BenchmarkPrecompiled(b *testing.B) {
	n, err := newPrecompiled(realCharsmaps(b)[0].b64)
	if err != nil {
		b.Fatal(err)
	}
	text := strings.Join(precompiledSentences, "\n")
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		n.normalize(text)
	}
}

// BenchmarkPrecompiledLoad is the cost of decoding and checking a real
// charsmap.
func BenchmarkPrecompiledLoad(b *testing.B) {
	cm := realCharsmaps(b)[0].b64
	for b.Loop() {
		if _, err := newPrecompiled(cm); err != nil {
			b.Fatal(err)
		}
	}
}
