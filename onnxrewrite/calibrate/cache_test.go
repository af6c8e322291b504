package calibrate_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// The zoo's cache forms (Optimum's decoder_with_past and
// decoder_model_merged) are sampled one id a step with the key/value cache,
// each step's present.* fed back as past_key_values.*, and draw the same
// ids as the no-cache form of the same weights with the same seed: 8
// sequences of 16 ids, 15 passes over 8 positions each.
func TestSampleCache(t *testing.T) {
	rt := rtkit.Runtime(t)
	root := testkit.RepoRoot(t)
	for _, base := range []string{"gpt2", "llama"} {
		var want []int64
		for _, form := range []string{"", "_with_past", "_merged"} {
			t.Run(base+form, func(t *testing.T) {
				m := testkit.Load(t, fixtures.ZooPath(root, base+form))
				s, err := calibrate.Sample(rt, m, calibrate.SampleOptions{N: 8, Len: 16, BOS: 1, Seed: 3})
				if err != nil {
					t.Fatal(err)
				}
				cached := form != ""
				if (s.LM.Cache != nil) != cached {
					t.Fatalf("cache found: %v, want %v", s.LM.Cache != nil, cached)
				}
				if cached {
					if got := fmt.Sprint(s.LM.Cache.Present); got != "map[past_key_values.0.key:present.0.key past_key_values.0.value:present.0.value past_key_values.1.key:present.1.key past_key_values.1.value:present.1.value]" {
						t.Errorf("cache %s", got)
					}
					if s.Passes != 15 || s.Positions != 8*15 {
						t.Errorf("%d passes, %d positions; want 15, %d", s.Passes, s.Positions, 8*15)
					}
				}
				if want == nil {
					want = s.IDs
					return
				}
				if !slices.Equal(s.IDs, want) {
					t.Errorf("ids %v\nwant the no-cache form's %v", s.IDs[:32], want[:32])
				}
			})
		}
	}
}

// A merged decoder reads its tables in both branches of its If; one runs,
// so the rows count once: the same counts as the no-cache form on the same
// ids, for every table but one whose ids each branch computes (gpt2's
// positions), which is left out rather than failing the count.
func TestRowCountsMerged(t *testing.T) {
	rt := rtkit.Runtime(t)
	root := testkit.RepoRoot(t)
	for _, c := range []struct{ base, uncounted string }{{"gpt2", "wpe.weight"}, {"llama", ""}} {
		t.Run(c.base, func(t *testing.T) {
			plain := testkit.Load(t, fixtures.ZooPath(root, c.base))
			merged := testkit.Load(t, fixtures.ZooPath(root, c.base+"_merged"))
			s, err := calibrate.Sample(rt, plain, calibrate.SampleOptions{N: 4, Len: 10, BOS: 1, Seed: 5})
			if err != nil {
				t.Fatal(err)
			}
			lm, err := calibrate.FindLM(merged, "")
			if err != nil {
				t.Fatal(err)
			}
			var counts [2]map[string][]int64
			for i, m := range []*calibrate.LM{s.LM, lm} {
				in, err := m.Feed(s.IDs, s.N, s.Len)
				if err != nil {
					t.Fatal(err)
				}
				if counts[i], err = calibrate.RowCounts(rt, []*model.Model{plain, merged}[i], nil, in); err != nil {
					t.Fatal(err)
				}
			}
			delete(counts[0], c.uncounted)
			if len(counts[0]) == 0 || fmt.Sprint(counts[1]) != fmt.Sprint(counts[0]) {
				t.Errorf("merged counts differ from the no-cache form's (sums %v, want %v)", sums(counts[1]), sums(counts[0]))
			}
			if c.uncounted != "" {
				_, err := calibrate.RowCounts(rt, merged, []string{c.uncounted}, nil)
				if err == nil || !strings.Contains(err.Error(), "only ids that are values of the main graph can be counted") {
					t.Errorf("counting %s when named: error %v, want the refusal", c.uncounted, err)
				}
			}
		})
	}
}

func sums(c map[string][]int64) map[string]int64 {
	out := map[string]int64{}
	for name, v := range c {
		for _, x := range v {
			out[name] += x
		}
	}
	return out
}
