//go:build unix

package model

import (
	"errors"
	"os"
	"syscall"
)

// processAlive says whether a process with this PID runs (or may run: one
// we may not signal counts as alive).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// lockTemp takes an advisory lock on a temporary file while it is being
// written, so that a save in another PID namespace does not take it for
// stale; the lock goes with the file's descriptor.
func lockTemp(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// removeIfUnlocked removes p unless another process holds its lock.
func removeIfUnlocked(p string) {
	f, err := os.Open(p)
	if err != nil {
		return
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return
	}
	os.Remove(p)
}
