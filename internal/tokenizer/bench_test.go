package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkReferenceFiles tokenizes two texts with every installed real
// tokenizer.json (scripts/install-tokenizer-refs.sh), each run with a
// freshly loaded tokenizer, so a cold word cache (the load is not timed):
// the repository's README.md (English prose and code) and the 5,000-line
// multilingual mix of scripts/tokref/expect.sh (long words, rare scripts).
// MB/s is the throughput; run it on one core:
//
//	go test ./internal/tokenizer -run '^$' -bench ReferenceFiles -cpu 1 -benchtime 1x -count 3
//
// TOKJSON and TEXT, when set, bench one file on one text instead.
func BenchmarkReferenceFiles(b *testing.B) {
	type job struct{ name, path string }
	var toks []job
	if p := os.Getenv("TOKJSON"); p != "" {
		toks = append(toks, job{filepath.Base(filepath.Dir(p)), p})
	} else {
		dir := refCache(b)
		for _, f := range refFiles(b, dir) {
			toks = append(toks, job{f.family + "/" + f.name, filepath.Join(dir, "tok", f.name, "tokenizer.json")})
		}
	}
	texts := []job{{"readme", filepath.Join("..", "..", "README.md")}, {"mixed", filepath.Join(refCache(b), "text", "mixed.txt")}}
	if p := os.Getenv("TEXT"); p != "" {
		texts = []job{{filepath.Base(p), p}}
	}
	for _, tx := range texts {
		raw, err := os.ReadFile(tx.path)
		if err != nil {
			b.Logf("skipping text %s: %v", tx.name, err)
			continue
		}
		lines := strings.Split(string(raw), "\n")
		for _, tj := range toks {
			b.Run(tx.name+"/"+tj.name, func(b *testing.B) {
				b.SetBytes(int64(len(raw)))
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					t, err := Load(tj.path)
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					for _, l := range lines {
						t.Encode(l)
					}
				}
			})
		}
	}
}
