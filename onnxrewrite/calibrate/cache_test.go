package calibrate_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
	"github.com/embshrink/embshrink/onnxrewrite/calibrate"
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
