// Package ort runs models in ONNX Runtime (through
// github.com/yalue/onnxruntime_go) on plain Go tensors, e.g. to compare a
// rewritten model's outputs with the original's or to count the rows
// calibration inputs read. It is the only package of embshrink that imports
// onnxruntime_go and the only one that needs cgo; it must not import the
// rewrite rules, the learner or anything above them.
package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	onnxrt "github.com/yalue/onnxruntime_go"
)

// runtimeLibName is the file installed by scripts/install-onnxruntime.sh.
const runtimeLibName = "libonnxruntime.so.1"

// ErrNoRuntime is wrapped by every error that comes of the ONNX Runtime
// library being absent; callers test it with errors.Is.
var ErrNoRuntime = errors.New("ONNX Runtime library not found")

// RuntimeLibrary finds the ONNX Runtime shared library: the file named by
// $ONNXRUNTIME_LIB if set, else libonnxruntime.so.1 in
// ${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-1.30.0}, where
// scripts/install-onnxruntime.sh puts it.
func RuntimeLibrary() (string, error) {
	if p := os.Getenv("ONNXRUNTIME_LIB"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("onnxruntime: $ONNXRUNTIME_LIB: %w (install it with `bash scripts/install-onnxruntime.sh`, or point $ONNXRUNTIME_LIB at a libonnxruntime.so): %w", ErrNoRuntime, err)
		}
		return p, nil
	}
	dir := os.Getenv("EMBSHRINK_ORT_DIR")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("onnxruntime: cannot find the library: %w; set $ONNXRUNTIME_LIB", err)
		}
		dir = filepath.Join(home, ".cache", "embshrink", "onnxruntime-1.30.0")
	}
	p := filepath.Join(dir, runtimeLibName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("onnxruntime: library not found at %s (install it with `bash scripts/install-onnxruntime.sh`, or set $ONNXRUNTIME_LIB to a libonnxruntime.so): %w: %w", p, ErrNoRuntime, err)
	}
	return p, nil
}

// ortEnv counts the open Runtimes. ONNX Runtime has one environment per
// process, so it is created by the first OpenRuntime and destroyed by the
// last Close.
var ortEnv struct {
	mu   sync.Mutex
	refs int
}

// Runtime is a handle on the process's ONNX Runtime environment. Each
// Runtime returned by OpenRuntime must be closed.
type Runtime struct {
	mu       sync.Mutex
	closed   bool
	sessions map[*Session]bool // open, closed with the Runtime
}

// OpenRuntime loads the ONNX Runtime library (see RuntimeLibrary) and
// initialises its environment, or shares the one already initialised.
func OpenRuntime() (*Runtime, error) {
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	if ortEnv.refs == 0 {
		lib, err := RuntimeLibrary()
		if err != nil {
			return nil, err
		}
		onnxrt.SetSharedLibraryPath(lib)
		if err := onnxrt.InitializeEnvironment(onnxrt.WithLogLevelFatal()); err != nil {
			return nil, fmt.Errorf("onnxruntime: initialising %s: %w", lib, err)
		}
	}
	ortEnv.refs++
	return &Runtime{}, nil
}

// Close releases r and closes the sessions it opened that are still open
// (their Close is then a no-op), so that none outlives the environment,
// which is destroyed when the last Runtime is closed. It must not overlap
// with a Run. Closing twice is a no-op.
func (r *Runtime) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	r.closed = true
	var errs []error
	for s := range r.sessions {
		errs = append(errs, s.release())
	}
	r.sessions = nil
	if err := errors.Join(errs...); err != nil {
		return err
	}
	ortEnv.mu.Lock()
	defer ortEnv.mu.Unlock()
	ortEnv.refs--
	if ortEnv.refs == 0 {
		if err := onnxrt.DestroyEnvironment(); err != nil {
			return fmt.Errorf("onnxruntime: destroying the environment: %w", err)
		}
	}
	return nil
}
