package compress_test

import (
	"os"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/compress"
)

// TestVibeWide measures the calibrated compress of the vibe model on 20,000
// held-out sentences (ten times TestVibeCalibration's, from another seed)
// for three learner seeds, at the default size and at 14x16: on 2,000
// sentences one decision is 0.05%, and learning changes move the agreement
// there by 4-8 decisions either way, so a change to the learner is judged
// here. Each run must agree on at least 99%, and the three on 99.5% on
// average (TestVibeCalibration's floors at 14x16, for one seed).
//
//	EMBSHRINK_DEV=1 go test ./onnxrewrite/compress -run VibeWide -v -timeout 30m
func TestVibeWide(t *testing.T) {
	if os.Getenv("EMBSHRINK_DEV") == "" {
		t.Skip("set EMBSHRINK_DEV=1 for the vibe measurement on 20,000 held-out sentences (minutes)")
	}
	v := newVibeSet(t, 3, 20000)
	rt, calib, heldIn, orig := v.rt, v.calib, v.in, v.orig
	for _, size := range []struct{ M, K int }{{0, 0}, {14, 16}} {
		var sum float64
		for seed := int64(1); seed <= 3; seed++ {
			opts := compress.Options{Seed: seed, Floor: compress.DefaultFloor, MinTableBytes: compress.DefaultMinTableBytes, M: size.M, K: size.K}
			agree, ratio, rep := vibeRun(t, rt, calib, heldIn, orig, opts)
			tr := rep.Tables[0]
			differ := v.n - int(agree*float64(v.n)+0.5)
			t.Logf("%dx%d seed %d: %.3f%% agree (%d of %d differ), %.1fx smaller, weighted error %.4f",
				tr.M, tr.K, seed, 100*agree, differ, v.n, ratio, tr.WeightedRelSqErr)
			if agree < 0.99 {
				t.Errorf("%dx%d seed %d: %.4f of held-out decisions agree, want >= 0.99", tr.M, tr.K, seed, agree)
			}
			sum += agree
		}
		t.Logf("M=%d K=%d (0: default): mean agreement %.3f%%", size.M, size.K, 100*sum/3)
		if sum/3 < 0.995 {
			t.Errorf("M=%d K=%d: mean agreement %.4f over three seeds, want >= 0.995", size.M, size.K, sum/3)
		}
	}
}
