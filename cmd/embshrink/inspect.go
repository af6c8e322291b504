package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

func inspectCommand() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "list a model's embedding tables, largest first",
		ArgsUsage: "MODEL.onnx | DIR | MODEL.onnx MODEL.onnx...",
		Description: "A folder (or several files) is a model exported as several files: each table is listed once,\n" +
			"with the files that hold a bitwise copy of it.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print one JSON document on stdout"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 && isMulti(c) {
				return runInspectMulti(c)
			}
			path, err := oneArg(c, "MODEL.onnx")
			if err != nil {
				return err
			}
			m, err := model.Load(path)
			if err != nil {
				return inputError(err)
			}
			inv, err := onnxrewrite.ListTables(m) // copies confirmed on sampled rows
			if err != nil {
				return inputError(err)
			}
			if c.Bool("json") {
				return writeJSON(c.App.Writer, struct {
					Model string `json:"model"`
					*onnxrewrite.Inventory
					Provenance *provenanceJSON `json:"provenance,omitempty"`
				}{path, inv, readProvenanceJSON(m)})
			}
			printInventory(c.App.Writer, path, inv)
			printProvenance(c.App.Writer, m)
			return nil
		},
	}
}

func printInventory(w io.Writer, path string, inv *onnxrewrite.Inventory) {
	fmt.Fprintf(w, "%s: %d embedding table(s), %s of %s weights (%.1f%%)\n", path, len(inv.Tables),
		humanBytes(inv.TableBytes), humanBytes(inv.TotalBytes), 100*ratio(inv.TableBytes, inv.TotalBytes))
	if len(inv.Tables) == 0 {
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TABLE\tSHAPE\tDTYPE\tBYTES\tSHARE\tGATHERS\tOTHER USES, COPIES, NOTES")
	for _, t := range inv.Tables {
		var gathers []string
		for _, g := range t.Gathers {
			gathers = append(gathers, g.Node)
		}
		var notes []string
		if t.Computed != "" {
			notes = append(notes, fmt.Sprintf("%s: computed, not learned (compress leaves it out unless named with --table)", t.Computed))
		}
		if t.Via != nil {
			notes = append(notes, fmt.Sprintf("read through %s %s (rewritten in the decode layout)", t.Via.OpType, t.Via.Node))
		}
		for _, a := range t.UnreadAttrs {
			notes = append(notes, fmt.Sprintf("attribute %s of %s %s holds a tensor of its shape the function never reads (a rewrite drops it)", a, t.Via.OpType, t.Via.Node))
		}
		for _, u := range t.OtherUses {
			notes = append(notes, fmt.Sprintf("%s %s (%s)", u.OpType, u.Node, u.Detail))
		}
		for _, c := range t.Copies {
			how := "copy"
			if c.Transposed {
				how = "transposed copy"
			}
			if c.SampledRows > 0 {
				notes = append(notes, fmt.Sprintf("%s %s (%d bytes, sampled: %d rows)", how, c.Name, c.Bytes, c.SampledRows))
			} else {
				notes = append(notes, fmt.Sprintf("%s %s (%d bytes)", how, c.Name, c.Bytes))
			}
		}
		if q := t.Quantized; q != nil {
			notes = append(notes, quantNotes(q)...)
		}
		others := "-"
		if len(notes) > 0 {
			others = strings.Join(notes, "; ")
		}
		fmt.Fprintf(tw, "%s\t[%d, %d]\t%s\t%d\t%.4f\t%s\t%s\n", t.Name, t.Shape[0], t.Shape[1], t.DType, t.Bytes, t.Share,
			strings.Join(gathers, ", "), others)
	}
	tw.Flush()
}

// oneArg returns the single positional argument a command takes.
func oneArg(c *cli.Context, what string) (string, error) {
	if c.NArg() != 1 {
		return "", inputError(fmt.Errorf("%s: expected one argument, %s; got %d", c.Command.Name, what, c.NArg()))
	}
	return c.Args().First(), nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// humanBytes prints a byte count in binary units with the exact count in
// parentheses when it is not small.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for v := n / unit; v >= unit; v /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// quantForms says how each quantized form reads its table.
var quantForms = map[string]string{
	"gather-dequantize":      "Gather -> DequantizeLinear",
	"qdq":                    "DequantizeLinear -> Gather",
	"per-row":                "Gather -> Cast/Sub/Mul by per-row scales gathered with the ids",
	"gather-block-quantized": "com.microsoft.GatherBlockQuantized",
}

// quantNotes describes a quantized table for inspect.
func quantNotes(q *onnxrewrite.QuantInfo) []string {
	form := quantForms[q.Form]
	if form == "" {
		form = q.Op
	}
	n := fmt.Sprintf("quantized %s (%s, node %s) to %s: values %d + scales/zero points %d bytes", q.Scheme, form, q.Node.Node, q.Float,
		q.ValueBytes, q.ParamBytes)
	if q.Unsupported != "" {
		n += "; not rewritable: " + q.Unsupported
	}
	notes := []string{n}
	for _, u := range q.Kept {
		notes = append(notes, fmt.Sprintf("%s %s keeps its quantized weights (%s)", u.OpType, u.Node, u.Detail))
	}
	return notes
}
