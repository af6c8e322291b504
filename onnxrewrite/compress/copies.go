package compress

import (
	"fmt"

	"github.com/embshrink/embshrink/onnxrewrite"
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
