package learner

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestFitRounds(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name                 string
		done, most, restarts int
		spent, left, reserve time.Duration
		want                 plan
	}{
		{"ample time keeps the rounds", 1, 128, 2, 10 * ms, time.Hour, 0, plan{128, 2}},
		{"eleven rounds at the pace", 2, 128, 2, 20 * ms, 110 * ms, 0, plan{2 + 11, 2}},
		{"the reserve is kept", 2, 128, 2, 20 * ms, 110 * ms, 30 * ms, plan{2 + 8, 2}},
		{"a shorter last round", 4, 128, 2, 40 * ms, 39 * ms, 0, plan{4 + 3 + 1, 1}},
		{"a last round without restarts", 4, 128, 2, 40 * ms, 34 * ms, 0, plan{4 + 3 + 1, 0}},
		{"too little for a round without restarts", 4, 128, 2, 40 * ms, 32 * ms, 0, plan{4 + 3, 2}},
		{"no whole round left", 5, 128, 8, 50 * ms, 5 * ms, 0, plan{5 + 1, 3}},
		{"past the deadline ends now", 5, 128, 2, 50 * ms, -time.Second, 0, plan{5, 2}},
		{"nothing measured yet", 0, 128, 2, 0, 10 * ms, 0, plan{128, 2}},
	} {
		if got := fitRounds(tc.done, tc.most, tc.restarts, tc.spent, tc.left, tc.reserve); got != tc.want {
			t.Errorf("%s: fitRounds(%d, %d, %d, %v, %v, %v) = %+v, want %+v", tc.name, tc.done, tc.most, tc.restarts, tc.spent, tc.left, tc.reserve, got, tc.want)
		}
	}
}

func TestPaceStopped(t *testing.T) {
	p := pace{most: 28, limit: 70 * time.Second}
	for _, tc := range []struct {
		pl   plan
		want string
	}{
		{plan{28, 8}, "completed 28 rounds"},
		{plan{3, 8}, "completed 3 rounds, fitted to the time limit 1m10s (28 without it)"},
		{plan{4, 0}, "completed 4 rounds (the last of 0 restarts), fitted to the time limit 1m10s (28 without it)"},
		{plan{2, 1}, "completed 2 rounds (the last of 1 restart), fitted to the time limit 1m10s (28 without it)"},
		{plan{1, 8}, "completed 1 round, fitted to the time limit 1m10s (28 without it)"},
	} {
		if got := p.stopped(tc.pl, 8); got != tc.want {
			t.Errorf("stopped(%+v, 8) = %q, want %q", tc.pl, got, tc.want)
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
	want := fmt.Sprintf(`^completed %d rounds?( \(the last of [0-%d] restarts?\))?, fitted to the time limit %s \(%d without it\)$`,
		total, defaultSchedule(V, D).restarts-1, regexp.QuoteMeta(cfg.TimeLimit.String()), most)
	cut := strings.HasPrefix(res.Stopped, "time limit") && step >= total-1
	if !regexp.MustCompile(want).MatchString(res.Stopped) && !cut {
		t.Errorf("limit %v: stopped %q after %d of %d planned rounds, want %s", cfg.TimeLimit, res.Stopped, step, total, want)
	}
}

func TestTailPasses(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want float64 // in rounds of 2 restarts
	}{
		{"nothing after the rounds", Config{}, 0},
		{"the CodebookDType step's two passes of 12 restarts", Config{CodebookDType: DTypeFloat16}, 2 * 13.0 / 3},
		{"the caller's pass", Config{ReencodeAfter: true}, 13.0 / 3},
		{"both", Config{CodebookDType: DTypeBFloat16, ReencodeAfter: true}, 3 * 13.0 / 3},
		{"passes of the restarts asked for", Config{Restarts: 2, ReencodeAfter: true}, 1},
		{"a float32 codebook is not rounded", Config{CodebookDType: DTypeFloat32}, 0},
	} {
		if got := tailPasses(tc.cfg, 2); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("%s: tailPasses = %g, want %g", tc.name, got, tc.want)
		}
	}
}

// TestPaceKeepsTail checks that the plan keeps the passes after the rounds
// in the time left: 10 rounds took 100 ms and 205 ms are left, so 20 more
// rounds fit and, with 2 rounds' time kept, 18, each then with a last
// round of no restarts in the 5 ms over.
func TestPaceKeepsTail(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		tail float64
		want plan
	}{{0, plan{10 + 20 + 1, 0}}, {2, plan{10 + 18 + 1, 0}}} {
		p := pace{begun: now.Add(-100 * time.Millisecond), deadline: now.Add(205 * time.Millisecond), most: 128, tail: tc.tail}
		if got := p.planAt(10, 2, now); got != tc.want {
			t.Errorf("tail %g: plan = %+v, want %+v", tc.tail, got, tc.want)
		}
	}
}

// TestConvergedOnlyEarly checks that "converged" names a run that a round
// without gain stopped before its last round, and that a last round
// without gain (as a round fitted to a time limit under load, of no
// restarts, can be) still completed the rounds. Four distinct rows, each
// eight times, at one codebook of 4: the initialisation fits them exactly,
// and no round gains.
func TestConvergedOnlyEarly(t *testing.T) {
	const D = 8
	base := gaussian(4, D, 11)
	var data []float32
	for range 8 {
		data = append(data, base...)
	}
	V := len(data) / D
	for _, tc := range []struct {
		rounds int
		want   string
	}{
		{1, "completed 1 round"},
		{3, stoppedConverged},
	} {
		cfg := Config{M: 1, K: 4, Seed: 1, Iterations: tc.rounds, Anneal: -1}
		res := mustLearn(t, data, V, D, cfg)
		if res.Metrics.RelSqErr > 1e-12 {
			t.Fatalf("%d rounds: error %g, want the rows fitted exactly", tc.rounds, res.Metrics.RelSqErr)
		}
		if res.Stopped != tc.want {
			t.Errorf("%d rounds without gain: Stopped = %q, want %q", tc.rounds, res.Stopped, tc.want)
		}
	}
}
