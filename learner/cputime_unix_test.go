//go:build unix

package learner

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user plus system CPU time, or 0 when it is
// not known.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
