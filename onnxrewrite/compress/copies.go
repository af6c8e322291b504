package compress

import (
	"context"
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// uniqueNames drops repeated table names, keeping the first of each: a
// table named twice is compressed once.
func uniqueNames(names []string) []string {
	if names == nil {
		return nil
	}
	seen := map[string]bool{}
	out := []string{}
	for _, n := range names {
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// servedReport is the report of a table that an earlier table's rewrite
// already serves: a bitwise copy (an identical twin with its own Gathers,
// or a transpose) is computed from that table's codes.
func servedReport(tb *onnxrewrite.Table, by string) TableReport {
	return TableReport{Name: tb.Name, Shape: tb.Shape, DType: tb.DType,
		Skipped: fmt.Sprintf("a copy of %s, now computed from its codes", by)}
}

// compressAll compresses the named tables in turn; a table an earlier
// one's rewrite already serves as a copy is reported, not compressed.
func compressAll(ctx context.Context, m *model.Model, inv *onnxrewrite.Inventory, names []string, opts Options, progress func(Event)) (*Report, error) {
	for _, name := range names {
		tb, err := inv.Table(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		if err := tb.CheckIDTypes(); err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
	}
	if opts.BeforeLearn != nil {
		if err := opts.BeforeLearn(); err != nil {
			return nil, err
		}
	}
	if opts.CheckOutput != nil {
		p, err := Preview(m, names, opts)
		if err != nil {
			return nil, err
		}
		if err := opts.CheckOutput(p); err != nil {
			return nil, fmt.Errorf("checked before learning, a model of the output's form: %w", err)
		}
	}
	rep := &Report{}
	servedBy := map[string]string{} // copy name -> the table whose codes serve it
	for _, name := range names {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		tb, err := inv.Table(name)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", m.Path, err)
		}
		if by, ok := servedBy[name]; ok {
			rep.Tables = append(rep.Tables, servedReport(tb, by))
			continue
		}
		tr, err := compressTable(ctx, m, tb, opts, progress)
		if err != nil {
			return nil, err // errors name the model and the table
		}
		if tr.Rewrite != nil {
			for _, cp := range tr.Rewrite.Copies {
				servedBy[cp.Name] = name
			}
		}
		rep.Tables = append(rep.Tables, *tr)
	}
	return rep, nil
}
