package main

import (
	"errors"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/ort/install"
)

func runtimeCommand() *cli.Command {
	return &cli.Command{
		Name:  "runtime",
		Usage: "say which ONNX Runtime library embshrink uses (path, version, how it was found); `runtime install` fetches it",
		Description: "The library is $ONNXRUNTIME_LIB if set, else libonnxruntime.so.1 in\n" +
			"${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-" + install.Version + "}.",
		Action: func(c *cli.Context) error {
			path, how, err := ort.FindRuntimeLibrary()
			if err != nil {
				return inputError(err)
			}
			rt, err := openRuntime("runtime")
			if err != nil {
				return err
			}
			defer rt.Close()
			w := c.App.Writer
			fmt.Fprintf(w, "library:  %s\nfound by: %s\nversion:  %s\n", path, how, rt.Version())
			sum, err := install.FileSHA256(path)
			switch {
			case err != nil:
				fmt.Fprintf(w, "sha256:   unreadable: %v\n", err)
			case sum == install.SHA256:
				fmt.Fprintf(w, "sha256:   %s (the pinned %s build)\n", sum, install.Package)
			default:
				fmt.Fprintf(w, "sha256:   %s (not the pinned %s build, %s)\n", sum, install.Package, install.SHA256)
			}
			return nil
		},
		Subcommands: []*cli.Command{{
			Name:  "install",
			Usage: "fetch ONNX Runtime " + install.Version + " (npm pack " + install.Package + "), verify its sha256 and install it; prints its path",
			Description: "Installs into ${EMBSHRINK_ORT_DIR:-$HOME/.cache/embshrink/onnxruntime-" + install.Version + "}; set\n" +
				"$EMBSHRINK_ORT_TGZ to an already downloaded tarball to skip the download. A library already\n" +
				"there with the pinned sha256 is kept.",
			Action: func(c *cli.Context) error {
				lib, err := install.Install(c.Context, install.Options{Log: c.App.ErrWriter})
				if err != nil {
					return inputError(err)
				}
				fmt.Fprintln(c.App.Writer, lib)
				return nil
			},
		}},
	}
}

// openRuntime opens ONNX Runtime for a command, with an error that says how
// to install it.
func openRuntime(cmd string) (*ort.Runtime, error) {
	rt, err := ort.OpenRuntime()
	if err != nil {
		if !errors.Is(err, ort.ErrNoRuntime) { // a library that fails to load: the same remedy
			err = fmt.Errorf("%w (install the pinned library with `%s`, or set $ONNXRUNTIME_LIB)", err, install.Command)
		}
		return nil, inputError(fmt.Errorf("%s needs ONNX Runtime: %w", cmd, err))
	}
	return rt, nil
}
