package learner

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFitRounds(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name                 string
		done, most           int
		spent, left, reserve time.Duration
		want                 int
	}{
		{"ample time keeps the rounds", 1, 128, 10 * ms, time.Hour, 0, 128},
		{"eleven rounds at the pace", 2, 128, 20 * ms, 110 * ms, 0, 2 + 11},
		{"the reserve is kept", 2, 128, 20 * ms, 110 * ms, 30 * ms, 2 + 8},
		{"a partial round is not started", 4, 128, 40 * ms, 39 * ms, 0, 4 + 3},
		{"no time left ends now", 5, 128, 50 * ms, 5 * ms, 0, 5},
		{"past the deadline ends now", 5, 128, 50 * ms, -time.Second, 0, 5},
		{"nothing measured yet", 0, 128, 0, 10 * ms, 0, 128},
	} {
		if got := fitRounds(tc.done, tc.most, tc.spent, tc.left, tc.reserve); got != tc.want {
			t.Errorf("%s: fitRounds(%d, %d, %v, %v, %v) = %d, want %d", tc.name, tc.done, tc.most, tc.spent, tc.left, tc.reserve, got, tc.want)
		}
	}
}

// TestTimeLimitFitsRounds checks that a time limit shorter than the
// default rounds fits them to it, so that they end on their own, and that
// one longer than they need changes nothing.
func TestTimeLimitFitsRounds(t *testing.T) {
	const V, D = 1024, 32
	data := gaussian(V, D, 7)
	cfg := Config{M: 8, K: 32, Seed: 3, Threads: 1}
	full := mustLearn(t, data, V, D, cfg)
	cfg.TimeLimit = time.Hour
	long := mustLearn(t, data, V, D, cfg)
	if long.Stopped != full.Stopped || !slices.Equal(long.Codes, full.Codes) || !slices.Equal(long.Codebook, full.Codebook) {
		t.Errorf("an hour's limit: stopped %q, want %q with the same codes and codebook", long.Stopped, full.Stopped)
	}
	// The rounds planned are those of the last progress report; a run cut
	// short by a loaded machine in its last planned round still fitted them.
	var step, total int
	cfg.Progress = func(p Progress) {
		if p.Phase == "refine" {
			step, total = p.Step, p.Total
		}
	}
	cfg.TimeLimit = full.Elapsed / 4
	res := mustLearn(t, data, V, D, cfg)
	most := defaultSchedule(V, D).rounds
	if total <= 0 || total >= most {
		t.Fatalf("limit %v of a %v run: %d rounds planned, want fewer than %d", cfg.TimeLimit, full.Elapsed, total, most)
	}
	want := fmt.Sprintf("completed %d rounds, fitted to the time limit %v (%d without it)", total, cfg.TimeLimit, most)
	cut := strings.HasPrefix(res.Stopped, "time limit") && step >= total-1
	if res.Stopped != want && !cut {
		t.Errorf("limit %v: stopped %q after %d of %d planned rounds, want %q", cfg.TimeLimit, res.Stopped, step, total, want)
	}
}
