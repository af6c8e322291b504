package main

import (
	"fmt"
	"io"
	"path/filepath"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/learner/codes"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

func rewriteCommand() *cli.Command {
	return &cli.Command{
		Name:      "rewrite",
		Usage:     "replace a table's Gathers with a lookup of given codes and codebook",
		ArgsUsage: "MODEL.onnx",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "codes", Required: true, Usage: "integer `.npy` [V, M] of codes in [0, K)"},
			&cli.StringFlag{Name: "codebook", Required: true, Usage: "float `.npy` [M*K, D] or [M, K, D]"},
			&cli.StringFlag{Name: "table", Usage: "table `NAME` (default: the largest)"},
			&cli.StringFlag{Name: "codebook-dtype", Usage: "store the codebook as float32, float16 or bfloat16 (default: the table's float type)"},
		}, outputFlags()...),
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "MODEL.onnx")
			if err != nil {
				return err
			}
			save, err := saveOptions(c)
			if err != nil {
				return err
			}
			m, err := model.Load(path)
			if err != nil {
				return inputError(err)
			}
			out := c.String("output")
			if err := m.CheckOutput(out, save); err != nil {
				return inputError(err)
			}
			before := filesBytes(path)
			codes, book, err := codes.Read(c.String("codes"), c.String("codebook"))
			if err != nil {
				return inputError(err)
			}
			rep, err := onnxrewrite.RewriteTable(m, codes, book, onnxrewrite.RewriteOptions{
				Table: c.String("table"), Layout: onnxrewrite.Layout(c.String("layout")), NoPack: c.Bool("no-pack"), NoBag: c.Bool("no-bag"),
				CodebookDType: c.String("codebook-dtype")})
			if err != nil {
				return inputError(err)
			}
			if err := refuseOverwrite(out, save.DataFile, c.String("codes"), c.String("codebook")); err != nil {
				return inputError(err)
			}
			oc := newOutputCheck(c.Context, c.App.ErrWriter)
			save.Check = oc.check
			if err := m.SaveContext(c.Context, out, save); err != nil {
				return inputError(err)
			}
			oc.report()
			after := filesBytes(out)
			if c.Bool("json") {
				return writeJSON(c.App.Writer, struct {
					*onnxrewrite.RewriteReport
					Output      string `json:"output"`
					FilesBefore int64  `json:"files_bytes_before"`
					FilesAfter  int64  `json:"files_bytes_after"`
				}{rep, out, before, after})
			}
			w := c.App.Writer
			printRewrite(w, rep)
			fmt.Fprintf(w, "  files: %s -> %s (%.1fx smaller)\n", humanBytes(before), humanBytes(after), float64(before)/float64(max(after, 1)))
			fmt.Fprintf(w, "wrote %s\n", out)
			return nil
		},
	}
}

// outputFlags are the flags of the commands that write a rewritten model:
// its file, where its weights go, its layout, and JSON output.
func outputFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Required: true, Usage: "output model `FILE`"},
		&cli.StringFlag{Name: "layout", Value: "auto", Usage: "lookup (codes read per token, or counted per bag where a ReduceSum/ReduceMean pools the rows), decode (table rebuilt once at load) or auto"},
		&cli.BoolFlag{Name: "no-pack", Usage: "store one code per byte even when K <= 16 allows two or four"},
		&cli.BoolFlag{Name: "no-bag", Usage: "lookup: read codes per token even where a ReduceSum/ReduceMean pools the rows"},
		&cli.StringFlag{Name: "external-data", Value: "auto", Usage: "where weights go: auto (as the input had them), always, never"},
		&cli.StringFlag{Name: "data-file", Usage: "external data file `NAME` beside the output (default: OUTPUT.data)"},
		&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
	}
}

func saveOptions(c *cli.Context) (model.SaveOptions, error) {
	opts := model.SaveOptions{DataFile: c.String("data-file")}
	switch c.String("external-data") {
	case "auto":
		opts.External = model.ExternalAuto
	case "always":
		opts.External = model.ExternalAlways
	case "never":
		opts.External = model.ExternalNever
	default:
		return opts, inputError(fmt.Errorf("--external-data %q: want auto, always or never", c.String("external-data")))
	}
	return opts, nil
}

// filesBytes is what a model takes on disk, 0 when that cannot be read
// (the figure is only reported).
func filesBytes(path string) int64 {
	n, _ := model.FilesBytes(path)
	return n
}

// refuseOverwrite refuses an output model (or its data file) that is one of
// the command's input files; the input model itself is guarded by Save.
func refuseOverwrite(out, dataFile string, inputs ...string) error {
	if dataFile == "" {
		dataFile = filepath.Base(out) + ".data"
	}
	return model.RefuseSameFiles([]string{out, filepath.Join(filepath.Dir(out), dataFile)}, inputs)
}

func printRewrite(w io.Writer, rep *onnxrewrite.RewriteReport) {
	bags := ""
	if rep.Bags > 0 {
		bags = fmt.Sprintf(" (%d with their pooling as bags: code counts x codebook)", rep.Bags)
	}
	fmt.Fprintf(w, "%s: %s layout, %d Gather(s)%s: %s\n", rep.Table, rep.Layout, rep.Gathers, bags, rep.LayoutReason)
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  %s\n", n)
	}
	fmt.Fprintf(w, "  %d bytes -> codes %d (%d per byte) + codebook %d + aux %d bytes\n", rep.TableBytes,
		rep.CodesBytes, rep.CodesPerByte, rep.CodebookBytes, rep.AuxBytes)
	for _, u := range rep.OtherUses {
		fmt.Fprintf(w, "  %s %s now reads the decoded table (%s)\n", u.OpType, u.Node, u.Detail)
	}
	for _, cp := range rep.Copies {
		how := "copy"
		if cp.Transposed {
			how = "transposed copy"
		}
		fmt.Fprintf(w, "  %s (%s, %d bytes) now computed from the codes\n", cp.Name, how, cp.Bytes)
	}
}
