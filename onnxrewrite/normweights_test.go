package onnxrewrite_test

import (
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

func loadFixtureTable(t *testing.T, f fixtures.Fixture) (*model.Model, *onnxrewrite.Table) {
	t.Helper()
	m := testkit.Load(t, testkit.Write(t, f))
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := inv.Table(f.Table)
	if err != nil {
		t.Fatal(err)
	}
	return m, tb
}

// The norm detector finds the RMSNorm decomposition and the
// LayerNormalization operator of the LM fixtures, and no norm in the
// fixtures without one; the tied and folded heads are reported as tied.
func TestFindNorm(t *testing.T) {
	want := map[string]string{
		"lm_tied_rmsnorm":  "RMSNorm (decomposed: Pow",
		"lm_untied_folded": "RMSNorm (decomposed: Pow",
		"lm_layernorm":     "LayerNorm (LayerNormalization",
	}
	for _, f := range fixtures.LMs() {
		m, tb := loadFixtureTable(t, f)
		norm := onnxrewrite.FindNorm(m, tb)
		if !strings.HasPrefix(norm, want[f.Name]) {
			t.Errorf("%s: FindNorm = %q, want %q...", f.Name, norm, want[f.Name])
		}
		why := onnxrewrite.RelativeReason(m, tb)
		if !strings.Contains(why, "rows are read through "+norm) || !strings.Contains(why, "the table is tied") {
			t.Errorf("%s: RelativeReason = %q, want the norm and the tied head", f.Name, why)
		}
	}
	for _, f := range fixtures.All() {
		if f.Table == "" || f.Kept || len(f.Copies) > 0 {
			continue
		}
		m, tb := loadFixtureTable(t, f)
		if norm := onnxrewrite.FindNorm(m, tb); norm != "" {
			t.Errorf("%s: FindNorm = %q in a model without a norm", f.Name, norm)
		}
		if why := onnxrewrite.RelativeReason(m, tb); why != "" {
			t.Errorf("%s: RelativeReason = %q, want none", f.Name, why)
		}
	}
}

// The zoo decoders' cache forms read their table as the no-cache form
// does, a merged decoder inside its If's branches: the same norm, and
// tied through the exporter's folded copy, so all three learn in relative
// error.
func TestRelativeReasonCacheForms(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, c := range []struct{ base, table, norm string }{
		{"gpt2", "wte.weight", "LayerNorm (decomposed"},
		{"llama", "emb.weight", "RMSNorm (decomposed"},
	} {
		for _, form := range []string{"", "_with_past", "_merged"} {
			t.Run(c.base+form, func(t *testing.T) {
				m := testkit.Load(t, fixtures.ZooPath(root, c.base+form))
				inv, err := onnxrewrite.FindTables(m)
				if err != nil {
					t.Fatal(err)
				}
				tb, err := inv.Table(c.table)
				if err != nil {
					t.Fatal(err)
				}
				why := onnxrewrite.RelativeReason(m, tb)
				if !strings.Contains(why, "rows are read through "+c.norm) || !strings.Contains(why, "the table is tied: MatMul") {
					t.Errorf("reason %q, want rows read through %s and a tied MatMul", why, c.norm)
				}
			})
		}
	}
}

// A quantized table read through a norm gets relative weights in every form
// ONNX Runtime's quantizer writes: the norm is found past the dequantizing
// chain (the zoo's BERT-style encoder, its word table quantized).
func TestRelativeReasonQuantized(t *testing.T) {
	root := testkit.RepoRoot(t)
	for _, form := range []string{onnxrewrite.QuantizeDynamic, onnxrewrite.QuantizeQDQ, onnxrewrite.QuantizePerRow} {
		t.Run(form, func(t *testing.T) {
			m := testkit.Load(t, fixtures.ZooPath(root, "bert_mean"))
			if err := onnxrewrite.QuantizeAsORT(m, "word.weight", form); err != nil {
				t.Fatal(err)
			}
			inv, err := onnxrewrite.FindTables(m)
			if err != nil {
				t.Fatal(err)
			}
			tb := &inv.Tables[0]
			if tb.Quantized == nil {
				t.Fatalf("largest table %s is not the quantized word table", tb.Name)
			}
			if why := onnxrewrite.RelativeReason(m, tb); !strings.Contains(why, "LayerNorm") {
				t.Errorf("relative reason %q, want the LayerNorm past the chain", why)
			}
		})
	}
}
