package model

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
)

// Temporary files are named ".NAME.PID.RANDOM.tmp" in the output's folder:
// a later save into the same folder removes those of NAME whose process is
// gone (see removeStale), so a SIGKILL leaves nothing for long.

// tempPattern is the os.CreateTemp pattern of a temporary file for name.
func tempPattern(name string) string {
	return "." + name + "." + strconv.Itoa(os.Getpid()) + ".*.tmp"
}

// checkOutputFile refuses an output path that exists and is not a regular
// file (a device node, a FIFO, a symlink, a folder): Save would replace it.
func checkOutputFile(path, what string) error {
	st, err := os.Lstat(path)
	if err != nil {
		return nil // absent (or unreachable: the writes will say why)
	}
	if st.Mode().IsRegular() {
		return nil
	}
	kind := "not a regular file"
	switch {
	case st.IsDir():
		kind = "a directory"
	case st.Mode()&fs.ModeSymlink != 0:
		kind = "a symbolic link"
	case st.Mode()&fs.ModeDevice != 0:
		kind = "a device node"
	case st.Mode()&fs.ModeNamedPipe != 0:
		kind = "a named pipe"
	case st.Mode()&fs.ModeSocket != 0:
		kind = "a socket"
	}
	return fmt.Errorf("%s: %s exists and is %s; refusing to replace it", path, what, kind)
}

// probeTemp creates and removes a temporary file as Save would for name in
// dir: the folder is writable and the temporary name fits.
func probeTemp(path, dir, name string) error {
	f, err := os.CreateTemp(dir, tempPattern(name))
	if err != nil {
		if pe, ok := err.(*fs.PathError); ok {
			err = pe.Err
		}
		return fmt.Errorf("%s: cannot write a temporary file for %s in the output folder %s: %v", path, name, dir, err)
	}
	f.Close()
	return os.Remove(f.Name())
}

// checkOutputs is outputPaths' checks of the files themselves: neither
// output exists as something other than a regular file, they differ, and
// the folder takes their temporary files.
func checkOutputs(path, dir, dataName, dataPath string, opts SaveOptions) error {
	if path == "-" {
		// Commands take "-" for standard output; a model has a data file
		// beside it and is written by rename, so it goes to a named file.
		return fmt.Errorf("-: a model cannot be written to standard output; name the output file")
	}
	if filepath.Clean(dataPath) == filepath.Clean(path) {
		return fmt.Errorf("%s: data file %q is the output model itself", path, dataName)
	}
	if err := checkOutputFile(path, "output model"); err != nil {
		return err
	}
	names := []string{filepath.Base(path)}
	if opts.External != ExternalNever {
		if err := checkOutputFile(dataPath, "output data file"); err != nil {
			return err
		}
		names = append(names, dataName)
	}
	for _, n := range names {
		if err := probeTemp(path, dir, n); err != nil {
			return err
		}
	}
	return nil
}

// temps are the temporary files saves of this process have open, for
// RemoveTempFiles.
var temps = struct {
	sync.Mutex
	m map[string]bool
}{m: map[string]bool{}}

func trackTemp(p string) {
	temps.Lock()
	temps.m[p] = true
	temps.Unlock()
}

func untrackTemp(p string) {
	temps.Lock()
	delete(temps.m, p)
	temps.Unlock()
}

// RemoveTempFiles removes the temporary files of saves still under way in
// this process: the last thing a command does when it must exit at once
// (a panic, a second signal).
func RemoveTempFiles() {
	temps.Lock()
	defer temps.Unlock()
	for p := range temps.m {
		os.Remove(p)
		delete(temps.m, p)
	}
}

// removeStale removes the temporary files for name in dir that a save of
// another process left: those whose process no longer runs and that no one
// holds locked. A file of a running save (same PID alive, or locked) stays.
func removeStale(dir, name string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + name + "."
	for _, e := range ents {
		n := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(n, prefix) || !strings.HasSuffix(n, ".tmp") {
			continue
		}
		mid := strings.TrimSuffix(strings.TrimPrefix(n, prefix), ".tmp")
		pidStr, rnd, ok := strings.Cut(mid, ".")
		pid, err := strconv.Atoi(pidStr)
		if !ok || err != nil || pid <= 0 || pid == os.Getpid() || strings.Contains(rnd, ".") {
			continue
		}
		if _, err := strconv.ParseUint(rnd, 10, 64); err != nil || processAlive(pid) {
			continue
		}
		removeIfUnlocked(filepath.Join(dir, n))
	}
}
