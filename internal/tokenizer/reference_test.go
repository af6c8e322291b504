package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

// refFile is a row of files.tsv: a real tokenizer.json and its family.
type refFile struct{ name, family string }

func refFiles(t testing.TB, dir string) []refFile {
	b, err := os.ReadFile(filepath.Join(dir, "files.tsv"))
	if err != nil {
		t.Skipf("no reference tokenizers (%v): run %s", err, installRefs)
	}
	var out []refFile
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		f := strings.Split(l, "\t")
		if len(f) >= 2 {
			out = append(out, refFile{f[0], f[1]})
		}
	}
	return out
}

// readIDs reads a reference's JSONL (gzipped when it ends in .gz): one
// array of ids a line.
func readIDs(path string) ([][]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		zr, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		r = zr
	}
	var out [][]int
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var ids []int
		if err := json.Unmarshal(sc.Bytes(), &ids); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, len(out)+1, err)
		}
		out = append(out, ids)
	}
	return out, sc.Err()
}

// familyTally counts, per family, lines compared and lines identical to
// each reference and to either.
type familyTally struct {
	files                           []string
	lines, transformers, rust, both int
	// withTJ and withRust count the lines each reference gave ids for.
	withTJ, withRust int
}

func (ft *familyTally) of(n, with int) string {
	if with == 0 {
		return "     -"
	}
	return fmt.Sprintf("%6d", n)
}

// refText is a text and where the references' ids for it are.
type refText struct {
	name, path string
	// refs returns the files of the references' ids for a tokenizer.
	refs func(name string) map[string]string
}

// refTexts are the texts with reference ids: those scripts/tokref/expect.sh
// wrote into the cache (both references), else multilingual.txt with the
// Rust reference's ids committed in testdata/rust.
func refTexts(dir string) []refText {
	var out []refText
	exp, _ := filepath.Glob(filepath.Join(dir, "expected", "*"))
	for _, e := range exp {
		out = append(out, refText{filepath.Base(e), filepath.Join(dir, "text", filepath.Base(e)+".txt"), func(name string) map[string]string {
			return map[string]string{"transformers": filepath.Join(e, name+".transformers.jsonl"), "tokenizers": filepath.Join(e, name+".tokenizers.jsonl")}
		}})
	}
	if len(out) == 0 {
		out = append(out, refText{"multilingual", filepath.Join("..", "..", "fixtures", "testdata", "text", "multilingual.txt"), func(name string) map[string]string {
			return map[string]string{"tokenizers": filepath.Join("testdata", "rust", name+".jsonl.gz")}
		}})
	}
	return out
}

// TestMatchesReferences compares this package's ids with those of
// transformers.js and of Hugging Face's Rust tokenizers (refTexts) on every
// installed real tokenizer.json and every text, and wants at least 99.9%
// of the lines of each family identical to one of them (the bar;
// the figures are in the log).
func TestMatchesReferences(t *testing.T) {
	dir := refCache(t)
	files := refFiles(t, dir)
	texts := refTexts(dir)
	tally := map[string]*familyTally{}
	for _, f := range files {
		tk, err := Load(filepath.Join(dir, "tok", f.name, "tokenizer.json"))
		if err != nil {
			t.Errorf("%s: %v", f.name, err)
			continue
		}
		ft := tally[f.family]
		if ft == nil {
			ft = &familyTally{}
			tally[f.family] = ft
		}
		ft.files = append(ft.files, f.name)
		for _, tx := range texts {
			compareText(t, tk, f.name, tx, ft)
		}
	}
	fams := make([]string, 0, len(tally))
	for k := range tally {
		fams = append(fams, k)
	}
	sort.Strings(fams)
	for _, k := range fams {
		ft := tally[k]
		t.Logf("%-9s %2d files, %6d lines: identical to transformers.js %s, to tokenizers (Rust) %s, to either %6d (%.3f%%)",
			k, len(ft.files), ft.lines, ft.of(ft.transformers, ft.withTJ), ft.of(ft.rust, ft.withRust), ft.both,
			100*float64(ft.both)/float64(max(ft.lines, 1)))
		if float64(ft.both) < 0.999*float64(ft.lines) {
			t.Errorf("%s: %d of %d lines identical to a reference, below 99.9%%", k, ft.both, ft.lines)
		}
	}
}

// compareText tokenizes one text with one tokenizer and tallies the lines
// identical to each reference present.
func compareText(t *testing.T, tk *Tokenizer, name string, tx refText, ft *familyTally) {
	lines, err := ReadLines(tx.path)
	if err != nil {
		t.Errorf("%s: %v", name, err)
		return
	}
	refs := map[string][][]int{}
	for impl, path := range tx.refs(name) {
		if ids, err := readIDs(path); err == nil && len(ids) == len(lines) {
			refs[impl] = ids
		}
	}
	if len(refs) == 0 {
		t.Errorf("%s: no complete reference ids for %s (run scripts/tokref/expect.sh)", name, tx.path)
		return
	}
	encs, _, err := tk.EncodeAll(lines, 0, 0)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	shown := 0
	for i, e := range encs {
		tj, rs := refs["transformers"], refs["tokenizers"]
		a := tj != nil && slices.Equal(e.IDs, tj[i])
		b := rs != nil && slices.Equal(e.IDs, rs[i])
		ft.lines++
		if tj != nil {
			ft.withTJ++
		}
		if rs != nil {
			ft.withRust++
		}
		if a {
			ft.transformers++
		}
		if b {
			ft.rust++
		}
		if a || b {
			ft.both++
		} else if shown++; shown <= 3 {
			t.Logf("%s %s line %d %q: got %v", name, tx.name, i+1, lines[i], e.IDs)
		}
	}
}
