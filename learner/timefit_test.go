package learner

import (
	"regexp"
	"slices"
	"strconv"
	"testing"
	"time"
)

func TestFitRounds(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name               string
		done, most         int
		spent, left, spare time.Duration
		want               int
	}{
		{"ample time keeps the rounds", 1, 128, 10 * ms, time.Hour, 0, 128},
		{"ten rounds at the pace, one kept for the refit", 2, 128, 20 * ms, 110 * ms, 0, 2 + 10},
		{"spare time is kept", 2, 128, 20 * ms, 110 * ms, 20 * ms, 2 + 8},
		{"a partial round is not started", 4, 128, 40 * ms, 39 * ms, 0, 4 + 2},
		{"no time left ends now", 5, 128, 50 * ms, 5 * ms, 0, 5},
		{"past the deadline ends now", 5, 128, 50 * ms, -time.Second, 0, 5},
		{"nothing measured yet", 0, 128, 0, 10 * ms, 0, 128},
	} {
		if got := fitRounds(tc.done, tc.most, tc.spent, tc.left, tc.spare); got != tc.want {
			t.Errorf("%s: fitRounds(%d, %d, %v, %v, %v) = %d, want %d", tc.name, tc.done, tc.most, tc.spent, tc.left, tc.spare, got, tc.want)
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
	cfg.TimeLimit = full.Elapsed / 4
	res := mustLearn(t, data, V, D, cfg)
	m := regexp.MustCompile(`^completed (\d+) rounds, fitted to the time limit .* \((\d+) without it\)$`).FindStringSubmatch(res.Stopped)
	if m == nil {
		t.Fatalf("limit %v of a %v run: stopped %q, want the rounds fitted to it", cfg.TimeLimit, full.Elapsed, res.Stopped)
	}
	n, _ := strconv.Atoi(m[1])
	most, _ := strconv.Atoi(m[2])
	if n <= 0 || n >= most || res.Elapsed > cfg.TimeLimit {
		t.Errorf("limit %v: %d of %d rounds in %v", cfg.TimeLimit, n, most, res.Elapsed)
	}
}
