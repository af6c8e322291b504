package learner

import (
	"fmt"
	"time"
)

// A time limit that cut the default rounds short used to stop them with
// their annealing noise still high: GloVe 50k at 8x256 with a 15 s limit
// ended at 0.2490 after 62 of 128 rounds, where 56 rounds planned as such
// end at 0.2388 in 14.2 s. So with a time limit and the default rounds, the
// rounds are fitted to the time left, and the noise decays over them: the
// same 15 s, 0.2407 and 0.2412 in 48 and 46 rounds, where cutting them
// short gave 0.2535 and 0.2546 (alternated runs, in a slow hour); 16x256 in
// 60 s, 0.1133 in 75 rounds against 0.1162. The last round gets the
// restarts that fit in what whole rounds leave: the whole GloVe table
// (341,479 rows) at 16x256 in 70 s, whose rounds take 17 to 21 s, ended
// after 2 whole rounds at 0.1873 in 55.8 s, and now at 0.1832 (4 rounds,
// the last of none) and 0.1838 (3) in 68.0 s.
//
// The fitted rounds keep the default restarts and anneal: trading one for
// the other does not pay in a short time either. GloVe 50k at 8x256 in 14
// s: 48 rounds of 2 restarts 0.2408, 66 of 1 0.2404, 36 of 4 0.2408; 48
// rounds at anneal 0.3 0.2450, 0.45 0.2408, 0.6 0.2424. The whole table
// (341,479 rows) at 16x256, about a minute after 13 s of initialisation: 3
// rounds of 8 restarts (the default) 0.1833 in 69.0 s, 5 of 4 0.1840 in
// 65.5 s, 9 of 2 0.1838 in 77.3 s, 6 of 2 0.1863 in 50.6 s, 8 of 1 0.1874
// in 45.4 s.

// plan is the rounds to run, the last of them with last restarts: fewer
// than the others' where a whole round no longer fits in the time left but
// a shorter one does.
type plan struct{ rounds, last int }

// fitRounds returns the plan after done rounds of restarts restarts that
// took spent, with left before the deadline: the rounds that end before it
// at the same pace, keeping reserve for the final refit and the pace's
// changes, at least done and at most most; then, in what remains, one
// more round of as many restarts as fit, a round's time taken as
// proportional to one plus its restarts (the whole GloVe table at 16x256:
// 4.0, 6.3 and 18.7 s a round at 1, 2 and 8 restarts; GloVe 50k at 8x256,
// 0.16, 0.22 and 0.29 s at 1, 2 and 4, where the spare covers the excess).
func fitRounds(done, most, restarts int, spent, left, reserve time.Duration) plan {
	if done <= 0 || spent <= 0 {
		return plan{most, restarts}
	}
	per := spent / time.Duration(done)
	free := left - reserve
	n := done + max(0, int(free/per))
	if n >= most {
		return plan{most, restarts}
	}
	rest := free - time.Duration(n-done)*per
	if r := int(rest*time.Duration(1+restarts)/per) - 1; r >= 0 {
		return plan{n + 1, min(r, restarts)}
	}
	return plan{n, restarts}
}

// One spareShare-th of the time limit is kept spare when fitting the
// rounds to it: the rounds' pace drifts (the first rounds of GloVe 50k at
// 8x256 make 3.9 changes a row's ICM, the 16th 3.0) and a shared machine's
// more.
const spareShare = 50

// pace fits the rounds of a refinement to its deadline, if it has one.
type pace struct {
	deadline time.Time // zero: no fitting
	begun    time.Time
	// refit is the time of the first round's refit, which takes as many
	// steps as the final one: what is kept for the final refit, rather
	// than a whole round (on the whole GloVe table at 16x256 a round takes
	// 17 to 21 s, its refit under 1 s).
	refit time.Duration
	most  int // the rounds without a limit
	limit time.Duration
	// tail is the encoding passes after the rounds, in rounds' time.
	tail float64
}

// tailPasses returns the time of the encoding passes that follow the
// rounds, in rounds of restarts restarts: a CodebookDType step's two and
// the caller's one after Learn (ReencodeAfter), each of the re-encoding's
// restarts, a round's time taken as proportional to one plus its restarts
// (see fitRounds).
func tailPasses(cfg Config, restarts int) float64 {
	passes := 0
	if isRounded(cfg.CodebookDType) {
		passes += 2
	}
	if cfg.ReencodeAfter {
		passes++
	}
	return float64(passes) * float64(1+cfg.encodeOpts(reencodeRestarts).restarts) / float64(1+restarts)
}

// newPace returns the pace for a refinement of most rounds begun now: it
// fits them to deadline when the rounds are the default ones (rounds
// asked for are run as asked, and the limit only stops them), keeping tail
// rounds' time for the passes after them.
func newPace(st *stopper, most int, defaultRounds bool, tail float64) pace {
	p := pace{begun: time.Now(), most: most, limit: st.limit, tail: tail}
	if d, ok := st.ctx.Deadline(); ok && st.limit > 0 && defaultRounds {
		p.deadline = d
	}
	return p
}

// plan returns the plan once done rounds of restarts restarts are over.
func (p pace) plan(done, restarts int) plan { return p.planAt(done, restarts, time.Now()) }

// planAt is plan at the time now.
func (p pace) planAt(done, restarts int, now time.Time) plan {
	if p.deadline.IsZero() {
		return plan{p.most, restarts}
	}
	spent := now.Sub(p.begun)
	tail := time.Duration(p.tail * float64(spent) / float64(max(done, 1)))
	return fitRounds(done, p.most, restarts, spent, p.deadline.Sub(now), p.refit+p.limit/spareShare+tail)
}

// stopped is Result.Stopped after the rounds of pl, completed.
func (p pace) stopped(pl plan, restarts int) string {
	switch {
	case pl.rounds >= p.most:
		return "completed " + counted(pl.rounds, "round")
	case pl.last < restarts:
		return fmt.Sprintf("completed %s (the last of %s), fitted to the time limit %v (%d without it)",
			counted(pl.rounds, "round"), counted(pl.last, "restart"), p.limit, p.most)
	}
	return fmt.Sprintf("completed %s, fitted to the time limit %v (%d without it)", counted(pl.rounds, "round"), p.limit, p.most)
}
