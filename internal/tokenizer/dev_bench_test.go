package tokenizer

import (
	"os"
	"strings"
	"testing"
)

// BenchmarkDevFile tokenizes the lines of $TEXT with $TOKJSON.
func BenchmarkDevFile(b *testing.B) {
	path, textPath := os.Getenv("TOKJSON"), os.Getenv("TEXT")
	if path == "" || textPath == "" {
		b.Skip("TOKJSON and TEXT not set")
	}
	t, err := Load(path)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile(textPath)
	if err != nil {
		b.Fatal(err)
	}
	lines := strings.Split(string(raw), "\n")
	b.SetBytes(int64(len(raw)))
	for i := 0; i < b.N; i++ {
		for _, l := range lines {
			t.Encode(l)
		}
	}
}
