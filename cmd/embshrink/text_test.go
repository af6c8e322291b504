package main

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
)

// textWords are the words of the synthetic tokenizer and text.
var textWords = strings.Fields("the a cat dog sat on mat runs fast slow red blue green house tree river " +
	"small large happy sad quick brown fox jumps over lazy bird sings song night day sun moon star")

// writeWordPiece writes a BERT-style tokenizer.json whose word ids start
// at first: [PAD] 0, [UNK] 100, [CLS] 101, [SEP] 102, as BERT's.
func writeWordPiece(t *testing.T, path string, first int) {
	t.Helper()
	vocab := map[string]int{"[PAD]": 0, "[UNK]": 100, "[CLS]": 101, "[SEP]": 102, ".": 103, "##s": 104}
	for i, w := range textWords {
		vocab[w] = first + i
	}
	v, _ := json.Marshal(vocab)
	doc := `{"version":"1.0","added_tokens":[{"id":0,"content":"[PAD]","special":true},{"id":100,"content":"[UNK]","special":true},` +
		`{"id":101,"content":"[CLS]","special":true},{"id":102,"content":"[SEP]","special":true}],` +
		`"normalizer":{"type":"BertNormalizer","clean_text":true,"handle_chinese_chars":true,"strip_accents":null,"lowercase":true},` +
		`"pre_tokenizer":{"type":"BertPreTokenizer"},` +
		`"post_processor":{"type":"TemplateProcessing","single":[{"SpecialToken":{"id":"[CLS]","type_id":0}},{"Sequence":{"id":"A","type_id":0}},{"SpecialToken":{"id":"[SEP]","type_id":0}}],` +
		`"special_tokens":{"[CLS]":{"id":"[CLS]","ids":[101],"tokens":["[CLS]"]},"[SEP]":{"id":"[SEP]","ids":[102],"tokens":["[SEP]"]}}},` +
		`"model":{"type":"WordPiece","unk_token":"[UNK]","continuing_subword_prefix":"##","max_input_chars_per_word":100,"vocab":` + string(v) + `}}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
}

// writeText writes n lines of 3 to 20 words (some plural, some unknown).
func writeText(t *testing.T, path string, n int, seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	var b strings.Builder
	for range n {
		k := 3 + rng.IntN(18)
		for j := range k {
			if j > 0 {
				b.WriteByte(' ')
			}
			w := textWords[rng.IntN(len(textWords))]
			switch rng.IntN(10) {
			case 0:
				w = strings.ToUpper(w[:1]) + w[1:] + "s"
			case 1:
				w = "zzq"
			}
			b.WriteString(w)
		}
		b.WriteString(".\n")
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestTextInputs: compress with --calibration-text writes the same bytes
// as with the .npz that tokenize writes from the same text, and validate
// with --inputs-text gives the same figures as with that .npz; the
// tokenizer beside the model is the default, and each input's source is
// said.
func TestTextInputs(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	orig := fixtures.ZooPath(testkit.RepoRoot(t), "bert_mean")
	writeWordPiece(t, at("tokenizer.json"), 2000)
	writeText(t, at("calib.txt"), 300, 1)
	writeText(t, at("held.txt"), 200, 2)
	for _, f := range []string{"calib", "held"} {
		if code, out, errOut := runCLI("tokenize", "--tokenizer", at("tokenizer.json"), "--text", at(f+".txt"), "-o", at(f+".npz")); code != 0 {
			t.Fatalf("tokenize %s: exit %d\n%s%s", f, code, out, errOut)
		}
	}
	learn := []string{"-M", "4", "-K", "16", "--iterations", "2", "--restarts", "1"}
	code, _, stderr := runCLI(append([]string{"compress", orig, "-o", at("text.onnx"), "--calibration-text", at("calib.txt"),
		"--tokenizer", at("tokenizer.json")}, learn...)...)
	if code != 0 {
		t.Fatalf("compress --calibration-text: exit %d\n%s", code, stderr)
	}
	for _, want := range []string{"input input_ids <- ids of 300 lines", "input attention_mask <- attention mask of the text",
		"input token_type_ids <- token types of the text"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("compress stderr lacks %q:\n%s", want, stderr)
		}
	}
	if code, _, stderr := runCLI(append([]string{"compress", orig, "-o", at("npz.onnx"), "--calibration", at("calib.npz")}, learn...)...); code != 0 {
		t.Fatalf("compress --calibration: exit %d\n%s", code, stderr)
	}
	a, _ := os.ReadFile(at("text.onnx"))
	b, _ := os.ReadFile(at("npz.onnx"))
	if len(a) == 0 || string(a) != string(b) {
		t.Errorf("--calibration-text and --calibration of tokenize's .npz wrote different models (%d and %d bytes)", len(a), len(b))
	}

	// validate finds tokenizer.json beside the model when --tokenizer is
	// not given.
	model := at("model.onnx")
	raw, _ := os.ReadFile(orig)
	os.WriteFile(model, raw, 0o644)
	validate := func(args ...string) roleReport {
		t.Helper()
		code, stdout, stderr := runCLI(append([]string{"validate", model, at("text.onnx"), "--json"}, args...)...)
		if code != exitOK && code != exitOutside {
			t.Fatalf("validate %v: exit %d: %s", args, code, stderr)
		}
		return decodeRoles(t, stdout)
	}
	text := validate("--inputs-text", at("held.txt"))
	npz := validate("--inputs", at("held.npz"))
	if !reflect.DeepEqual(text.Outputs, npz.Outputs) || len(text.Outputs) == 0 {
		t.Errorf("--inputs-text gave %+v, the .npz %+v", text.Outputs, npz.Outputs)
	}
	if len(text.Inputs) != 3 || text.Inputs[0].Source != "given" || text.Inputs[1].Source != "given" || text.Inputs[2].Source != "given" {
		t.Errorf("validate --inputs-text: inputs %+v, want all three given", text.Inputs)
	}
}

// Text that the model cannot take is refused in one line naming the file
// and what is wrong.
func TestTextInputsRefused(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	orig := fixtures.ZooPath(testkit.RepoRoot(t), "bert_mean")
	writeWordPiece(t, at("big.json"), 40000) // ids past the 30,522 rows
	writeWordPiece(t, at("tokenizer.json"), 2000)
	writeText(t, at("ok.txt"), 10, 1)
	os.WriteFile(at("bad.txt"), []byte("the cat\nsat \xc3\x28 on\n"), 0o644)
	if code, _, stderr := runCLI("tokenize", "--tokenizer", at("tokenizer.json"), "--text", at("ok.txt"), "-o", at("ok.npz")); code != 0 {
		t.Fatalf("tokenize: exit %d: %s", code, stderr)
	}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--inputs-text", at("ok.txt"), "--tokenizer", at("big.json")}, "is it this model's tokenizer?"},
		{[]string{"--inputs-text", at("bad.txt"), "--tokenizer", at("tokenizer.json")}, "bad.txt: line 2 is not valid UTF-8 (byte 5)"},
		{[]string{"--inputs-text", at("ok.txt")}, "no tokenizer.json beside the model; give --tokenizer FILE"},
		{[]string{"--inputs-text", at("ok.txt"), "--inputs", at("ok.npz"), "--tokenizer", at("tokenizer.json")}, `input "input_ids" is given by a file and by the text`},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(append([]string{"validate", orig, orig}, c.args...)...)
		if code != exitInput || !strings.Contains(stderr, c.want) || strings.Count(strings.TrimSpace(stderr), "\n") > 0 {
			t.Errorf("%v: exit %d, stderr %q; want exit 2 and one line with %q", c.args, code, stderr, c.want)
		}
	}
}

// A line longer than the model's position table is cut to its rows (the
// zoo's BERT has 128), where ONNX Runtime would refuse the model's Gather.
func TestTextCutToPositions(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	orig := fixtures.ZooPath(testkit.RepoRoot(t), "bert_mean")
	writeWordPiece(t, at("tokenizer.json"), 2000)
	os.WriteFile(at("long.txt"), []byte("the cat sat.\n"+strings.Repeat("dog runs ", 200)+"\n"), 0o644)
	code, stdout, stderr := runCLI("validate", orig, orig, "--inputs-text", at("long.txt"), "--tokenizer", at("tokenizer.json"))
	if code != exitOK {
		t.Fatalf("validate: exit %d\n%s%s", code, stdout, stderr)
	}
	if want := "padded to 128 with token [PAD] (id 0); at most 128 ids (the rows of the model's position table): 1 lines cut"; !strings.Contains(stderr, want) {
		t.Errorf("stderr lacks %q:\n%s", want, stderr)
	}
}
