package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/tokenizer"
)

func tokenizeCommand() *cli.Command {
	return &cli.Command{
		Name:  "tokenize",
		Usage: "turn a text file into token ids with a Hugging Face tokenizer.json",
		Description: "One line of --text is one sequence (UTF-8; lines end at \\n only: a \\r before it is part of the line). The ids\n" +
			"include the special tokens the tokenizer's post-processor adds. -o writes an .npz of int64\n" +
			"input_ids, attention_mask and, where the post-processor defines token types, token_type_ids,\n" +
			"padded to the longest line (or --max-length) with the tokenizer's pad id; --jsonl prints one\n" +
			"JSON array of ids a line instead (no padding).",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "tokenizer", Required: true, Usage: "`tokenizer.json` (tokenizer_config.json beside it gives the pad token where tokenizer.json does not)"},
			&cli.StringFlag{Name: "text", Required: true, Usage: "text `FILE`, one sequence a line"},
			&cli.IntFlag{Name: "max-length", Usage: "cut longer sequences to `N` ids, special tokens kept, and pad to N (0: no limit, pad to the longest)"},
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "output `OUT.npz`"},
			&cli.BoolFlag{Name: "jsonl", Usage: "print one JSON array of ids a line on stdout instead of writing -o"},
			&cli.IntFlag{Name: "threads", Usage: "threads (0: all CPUs; the ids do not depend on it)"},
		},
		Action: runTokenize,
	}
}

func runTokenize(c *cli.Context) error {
	out, jsonl := c.String("output"), c.Bool("jsonl")
	switch {
	case c.NArg() != 0:
		return inputError(fmt.Errorf("tokenize: takes no arguments (got %q); give --tokenizer, --text and -o or --jsonl", c.Args().Slice()))
	case out == "" && !jsonl:
		return inputError(fmt.Errorf("tokenize: give -o OUT.npz or --jsonl"))
	case out != "" && jsonl:
		return inputError(fmt.Errorf("tokenize: give -o OUT.npz or --jsonl, not both"))
	case out != "" && !strings.HasSuffix(strings.ToLower(out), ".npz"):
		return inputError(fmt.Errorf("tokenize: -o %s: the output is an .npz archive; name it NAME.npz", out))
	case c.Int("max-length") < 0:
		return inputError(fmt.Errorf("tokenize: --max-length must be >= 0, got %d", c.Int("max-length")))
	}
	res, err := tokenizer.TokenizeFile(c.String("tokenizer"), c.String("text"), c.Int("max-length"), c.Int("threads"))
	if err != nil {
		return inputError(err)
	}
	if jsonl {
		return writeJSONL(c.App.Writer, res.Encodings)
	}
	b := res.Tokenizer.Pad(res.Encodings, c.Int("max-length"))
	if err := npy.WriteNPZ(out, batchMembers(b), false); err != nil {
		return inputError(err)
	}
	printBatch(c.App.Writer, out, res, b)
	return nil
}

func writeJSONL(w io.Writer, encs []tokenizer.Encoding) error {
	bw := bufio.NewWriter(w)
	for _, e := range encs {
		ids := e.IDs
		if ids == nil {
			ids = []int{}
		}
		line, err := json.Marshal(ids)
		if err != nil {
			return err
		}
		bw.Write(line)
		bw.WriteByte('\n')
	}
	return bw.Flush()
}

// batchMembers are the arrays of an .npz, named as Hugging Face names a
// model's text inputs.
func batchMembers(b tokenizer.Batch) []npy.Member {
	shape := []int{b.Rows, b.Len}
	m := []npy.Member{
		{Name: "input_ids", Array: npy.FromInt64(shape, b.IDs)},
		{Name: "attention_mask", Array: npy.FromInt64(shape, b.Mask)},
	}
	if b.TypeIDs != nil {
		m = append(m, npy.Member{Name: "token_type_ids", Array: npy.FromInt64(shape, b.TypeIDs)})
	}
	return m
}

func printBatch(w io.Writer, out string, res *tokenizer.FileResult, b tokenizer.Batch) {
	names := "input_ids, attention_mask"
	if b.TypeIDs != nil {
		names += ", token_type_ids"
	}
	side := "end"
	if b.Left {
		side = "start"
	}
	fmt.Fprintf(w, "%s: %s int64 [%d, %d]: %d lines, padded at the %s with %s", out, names, b.Rows, b.Len, res.Lines, side, b.PadFrom)
	if res.Truncated > 0 {
		fmt.Fprintf(w, "; %d lines cut to %d ids", res.Truncated, b.Len)
	}
	fmt.Fprintln(w)
}
