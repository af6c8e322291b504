package compress_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// Two runs that each compress one table of a model leave the provenance of
// both, and the second run's version and source.
func TestProvenanceKeepsEarlierTables(t *testing.T) {
	var f fixtures.Fixture
	for _, x := range fixtures.All() {
		if x.Name == "two_tables" {
			f = x
		}
	}
	path := testkit.Write(t, f)
	for i, table := range f.Tables {
		m := testkit.Load(t, path)
		opts := compress.Options{Tables: []string{table}, M: 2, K: 4, Seed: 1}
		rep, err := compress.Compress(context.Background(), m, opts)
		if err != nil {
			t.Fatal(err)
		}
		if err := compress.RecordProvenance(m, path, "test-"+table, rep, opts); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "out.onnx")
		if err := m.Save(out, model.SaveOptions{}); err != nil {
			t.Fatal(err)
		}
		version, _, tables, ok := compress.ReadProvenance(testkit.Load(t, out))
		if !ok || version != "test-"+table || len(tables) != i+1 {
			t.Fatalf("after run %d: version %q, tables %v (ok %v); want test-%s and %d tables", i, version, tables, ok, table, i+1)
		}
		for _, done := range f.Tables[:i+1] {
			if p, ok := tables[done]; !ok || p.M != 2 || p.K != 4 {
				t.Errorf("after run %d: table %s provenance %+v (present %v)", i, done, p, ok)
			}
		}
		path = out
	}
}
