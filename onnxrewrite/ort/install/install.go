// Package install fetches and verifies the ONNX Runtime shared library that
// embshrink loads: the build of linux x64 shipped inside the npm package
// onnxruntime-node, pinned to one version and one sha256. It is pure Go (no
// cgo) and the single place that pins them; package ort looks for the
// library where Install puts it, and scripts/install-onnxruntime.sh runs
// `embshrink runtime install`.
package install

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
)

// The pinned library.
const (
	Version = "1.30.0"
	SHA256  = "ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23"
	// Package is what `npm pack` fetches; Member the library inside it.
	Package = "onnxruntime-node@" + Version
	Member  = "package/bin/napi-v6/linux/x64/libonnxruntime.so.1"
	// LibName is the installed file's name.
	LibName = "libonnxruntime.so.1"
	// Command is what users run to install it.
	Command = "embshrink runtime install"
)

// Dir is the install folder: $EMBSHRINK_ORT_DIR, else
// $HOME/.cache/embshrink/onnxruntime-<Version>. how says which.
func Dir() (dir, how string, err error) {
	if d := os.Getenv("EMBSHRINK_ORT_DIR"); d != "" {
		return d, "$EMBSHRINK_ORT_DIR", nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", "", fmt.Errorf("no install folder: %w; set $EMBSHRINK_ORT_DIR or $ONNXRUNTIME_LIB", err)
	}
	return filepath.Join(home, ".cache", "embshrink", "onnxruntime-"+Version), "the default folder", nil
}

// FileSHA256 is the hex sha256 of a file.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Options controls Install.
type Options struct {
	// Dir is the install folder; "" means Dir().
	Dir string
	// Tarball is an already downloaded onnxruntime-node tarball; "" means
	// $EMBSHRINK_ORT_TGZ, else `npm pack` downloads it.
	Tarball string
	// Log hears of downloads; nil means silence.
	Log io.Writer
}

// Install puts the pinned library in the install folder and returns its
// path. A library already there with the pinned sha256 is kept; otherwise
// the library is taken from the tarball, checked against SHA256, written
// beside the destination and renamed into place.
func Install(ctx context.Context, opts Options) (string, error) {
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		return "", fmt.Errorf("install: only linux/amd64 is supported (this is %s/%s); set $ONNXRUNTIME_LIB to a libonnxruntime.so", runtime.GOOS, runtime.GOARCH)
	}
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	dir := opts.Dir
	if dir == "" {
		var err error
		if dir, _, err = Dir(); err != nil {
			return "", err
		}
	}
	lib := filepath.Join(dir, LibName)
	if got, err := FileSHA256(lib); err == nil {
		if got == SHA256 {
			return lib, nil
		}
		fmt.Fprintf(log, "install: %s has sha256 %s, want %s; reinstalling\n", lib, got, SHA256)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	tmp, err := os.MkdirTemp("", "embshrink-ort-")
	if err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	defer os.RemoveAll(tmp)
	tgz := opts.Tarball
	if tgz == "" {
		tgz = os.Getenv("EMBSHRINK_ORT_TGZ")
	}
	if tgz == "" {
		if tgz, err = npmPack(ctx, tmp, log); err != nil {
			return "", err
		}
	}
	if err := extract(tgz, dir, lib); err != nil {
		return "", fmt.Errorf("install: %w", err)
	}
	return lib, nil
}

// npmPack downloads the package's tarball into dir (npm checks it against
// the registry's integrity hash; no install script runs).
func npmPack(ctx context.Context, dir string, log io.Writer) (string, error) {
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", fmt.Errorf("install: npm is needed to download %s (or set $EMBSHRINK_ORT_TGZ to its tarball): %w", Package, err)
	}
	fmt.Fprintf(log, "install: downloading %s (about 113 MB) with npm pack\n", Package)
	cmd := exec.CommandContext(ctx, npm, "pack", "--silent", "--ignore-scripts", Package)
	cmd.Dir, cmd.Stdout = dir, io.Discard
	out, err := cmd.StderrPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", fmt.Errorf("install: npm pack %s: %w", Package, err)
	}
	msg, _ := io.ReadAll(io.LimitReader(out, 4096))
	if err := cmd.Wait(); err != nil {
		return "", fmt.Errorf("install: npm pack %s: %w: %s", Package, err, msg)
	}
	tgz := filepath.Join(dir, "onnxruntime-node-"+Version+".tgz")
	if _, err := os.Stat(tgz); err != nil {
		return "", fmt.Errorf("install: npm pack did not produce %s", tgz)
	}
	return tgz, nil
}

// extract copies Member out of the tarball into a temporary file in dir,
// checks its sha256, and renames it to lib.
func extract(tgz, dir, lib string) error {
	f, err := os.Open(tgz)
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", tgz, err)
	}
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%s has no %s", tgz, Member)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", tgz, err)
		}
		if h.Name == Member && h.Typeflag == tar.TypeReg {
			return place(tr, dir, lib)
		}
	}
}

func place(r io.Reader, dir, lib string) error {
	part, err := os.CreateTemp(dir, ".libonnxruntime.so.1.*")
	if err != nil {
		return err
	}
	defer os.Remove(part.Name()) // a no-op once renamed
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(part, h), r); err != nil {
		part.Close()
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != SHA256 {
		part.Close()
		return fmt.Errorf("sha256 of %s is %s, want %s", Member, got, SHA256)
	}
	if err := part.Chmod(0o644); err != nil {
		part.Close()
		return err
	}
	if err := part.Sync(); err != nil {
		part.Close()
		return err
	}
	if err := part.Close(); err != nil {
		return err
	}
	return os.Rename(part.Name(), lib)
}
