package main

import (
	"fmt"
	"runtime/debug"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/ort/install"
)

// toolVersion is the module version of a go-installed binary, else the VCS
// revision it was built from ("-dirty" with uncommitted changes), else
// "devel".
func toolVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	return "devel-" + rev + dirty
}

// printVersion is --version: the tool's version and the ONNX Runtime it
// finds.
func printVersion(c *cli.Context) {
	w := c.App.Writer
	fmt.Fprintf(w, "embshrink %s\n", toolVersion())
	path, how, err := ort.FindRuntimeLibrary()
	if err != nil {
		fmt.Fprintf(w, "ONNX Runtime: not found (install it with `%s`)\n", install.Command)
		return
	}
	rt, err := ort.OpenRuntime()
	if err != nil {
		fmt.Fprintf(w, "ONNX Runtime: %s (from %s) does not load: %v\n", path, how, err)
		return
	}
	defer rt.Close()
	fmt.Fprintf(w, "ONNX Runtime %s: %s (from %s)\n", rt.Version(), path, how)
}
