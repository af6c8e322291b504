package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"strings"

	"github.com/embshrink/embshrink/internal/tokenizer"
)

func main() {
	t, err := tokenizer.Load(os.Args[1])
	if err != nil {
		fmt.Println(err)
		os.Exit(2)
	}
	text, _ := os.ReadFile(os.Args[2])
	lines := strings.Split(string(text), "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	w := bufio.NewWriter(os.Stdout)
	for _, l := range lines {
		b, _ := json.Marshal(t.Encode(l).IDs)
		w.Write(b)
		w.WriteByte('\n')
	}
	w.Flush()
}
