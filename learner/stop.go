package learner

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// stopper carries the stopping rules of Config: the caller's context, the
// time limit (as a deadline on ctx) and the target error.
type stopper struct {
	parent context.Context
	// ctx is parent with the time limit's deadline; phases run under it.
	ctx    context.Context
	cancel context.CancelFunc
	target float64
	limit  time.Duration
}

func newStopper(parent context.Context, cfg Config, start time.Time) *stopper {
	s := &stopper{parent: parent, ctx: parent, cancel: func() {}, target: cfg.TargetError, limit: cfg.timeLimit()}
	if s.limit > 0 {
		s.ctx, s.cancel = context.WithDeadline(parent, start.Add(s.limit))
	}
	return s
}

// timedOut reports whether err is the time limit running out rather than
// the caller's cancellation (or another error).
func (s *stopper) timedOut(err error) bool {
	return s.limit > 0 && s.parent.Err() == nil && errors.Is(err, context.DeadlineExceeded)
}

// reached reports whether loss meets the target error.
func (s *stopper) reached(loss float64) bool { return s.target > 0 && loss <= s.target }

func (s *stopper) limitMsg() string  { return fmt.Sprintf("time limit %v", s.limit) }
func (s *stopper) targetMsg() string { return fmt.Sprintf("target error %g reached", s.target) }

// stoppedConverged is Result.Stopped when a round gained less than
// convergedGain relative error.
const (
	stoppedConverged = "converged"
	convergedGain    = 1e-7
)

// counted returns n and the noun, in the plural unless n is 1.
func counted(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
