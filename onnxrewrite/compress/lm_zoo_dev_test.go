package compress_test

import (
	"os"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/internal/testkit/rtkit"
)

// The zoo's decoders in their cache forms beside their no-cache form: each
// compressed at 16x16 self-calibrated on 300 sequences (seed 1; the cache
// forms sampled with the cache, drawing the same ids), then mean KL, top-1
// agreement and perplexity against the same form's original on 32 held-out
// sequences of 48 sampled with seed 2 (through the no-past branch or an
// empty past: the ids are the same in every form). Random weights: the
// figures compare the forms, not the method. Run with
//
//	EMBSHRINK_DEV=1 go test ./onnxrewrite/compress -run LMZooCache -v -timeout 60m
func TestLMZooCache(t *testing.T) {
	if os.Getenv("EMBSHRINK_DEV") == "" {
		t.Skip("set EMBSHRINK_DEV=1 for the zoo decoders' measurement (minutes)")
	}
	rt := rtkit.Runtime(t)
	root := testkit.RepoRoot(t)
	for _, name := range []string{"llama_with_past", "llama_merged", "llama", "gpt2_with_past", "gpt2_merged", "gpt2"} {
		t.Run(name, func(t *testing.T) {
			path := fixtures.ZooPath(root, name)
			e, ppl := heldOutEval(t, rt, path, 32)
			t.Logf("%s: original perplexity %.3f on %d held-out sequences of %d", name, ppl, e.n, e.l)
			t.Logf("%s: %s", name, lmRun(t, rt, path, e, 16, 300, 1))
		})
	}
}

// The no-cache figure on a trained model (stories260K, which has no cache
// form): 16x16 self-calibrated on 300 sequences, KL etc. on 200 held-out
// sequences sampled with seed 2, as TestLMStoriesSelfCalibrated measures it.
//
//	EMBSHRINK_DEV=1 go test ./onnxrewrite/compress -run LMStories300 -v
func TestLMStories300(t *testing.T) {
	if os.Getenv("EMBSHRINK_DEV") == "" {
		t.Skip("set EMBSHRINK_DEV=1 for the stories260K measurement")
	}
	rt := rtkit.Runtime(t)
	path := testkit.SharedData(t, "stories260k/stories260K_tied.onnx")
	e, ppl := heldOutEval(t, rt, path, 200)
	t.Logf("stories260K_tied: original perplexity %.3f; %s", ppl, lmRun(t, rt, path, e, 16, 300, 1))
}
