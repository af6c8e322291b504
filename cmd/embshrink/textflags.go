package main

import (
	"fmt"
	"io"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// textFlags are the flags that give inputs as text: --calibration-text
// and --inputs-text as the command takes them, and the tokenizer.
func textFlags(calibration, held bool) []cli.Flag {
	var f []cli.Flag
	if calibration {
		f = append(f, &cli.StringFlag{Name: "calibration-text", Usage: "calibration text `FILE`, one sequence a line, tokenized with --tokenizer into the model's ids, attention mask and token types (by role)"})
	}
	if held {
		f = append(f, &cli.StringFlag{Name: "inputs-text", Usage: "held-out text `FILE`, one sequence a line, tokenized with --tokenizer into the model's ids, attention mask and token types (by role)"})
	}
	return append(f,
		&cli.StringFlag{Name: "tokenizer", Usage: "Hugging Face `tokenizer.json` for text inputs (default: tokenizer.json beside the model)"},
		&cli.IntFlag{Name: "max-length", Usage: "cut text sequences to `N` ids, special tokens kept (0: the ids input's static length, else the rows of the model's position table, else model_max_length of tokenizer_config.json, else none)"})
}

// givenInputs says whether the command was given inputs by the .npy flag
// or its text flag.
func givenInputs(c *cli.Context, specsFlag, textFlag string) bool {
	return len(c.StringSlice(specsFlag)) > 0 || c.String(textFlag) != ""
}

// inputFiles are the places the .npy flag and its text flag name.
func inputFiles(c *cli.Context, specsFlag, textFlag string) inputs.Files {
	return inputs.Files{Specs: c.StringSlice(specsFlag), TextFlag: textFlag,
		Text: inputs.Text{File: c.String(textFlag), Tokenizer: c.String("tokenizer"), MaxLength: c.Int("max-length")}}
}

// readInputs reads the inputs the .npy flag and its text flag give for the
// model whose roles are r, saying on stderr what each input got from text.
func readInputs(c *cli.Context, r *roles.Roles, specsFlag, textFlag string, stderr io.Writer) (map[string]model.HostTensor, error) {
	return readFiles(r, inputFiles(c, specsFlag, textFlag), c.Command.Name, stderr)
}

func readFiles(r *roles.Roles, f inputs.Files, cmd string, stderr io.Writer) (map[string]model.HostTensor, error) {
	if f.Text.MaxLength < 0 {
		return nil, fmt.Errorf("--max-length must be >= 0, got %d", f.Text.MaxLength)
	}
	in, got, err := inputs.Read(r, f)
	if err != nil {
		return nil, err
	}
	for _, a := range got {
		fmt.Fprintf(stderr, "%s: --%s: input %s <- %s\n", cmd, f.TextFlag, a.Input, a.What)
	}
	return in, nil
}
