package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/ort/install"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// saveHoldEnv names a file that, when the variable is set, the check of a
// written model creates and then waits on until the command is interrupted:
// the one fixed point, temporary files written and nothing renamed, where a
// test can interrupt a save deterministically. Unset, nothing waits.
const saveHoldEnv = "EMBSHRINK_TEST_HOLD_SAVE"

// outputCheck is the check every written model passes before it is renamed
// into place: the onnx-go reader (validate.CheckGraph), then ONNX Runtime
// must load it (validate.CheckLoads), so that no command ends well with a
// model that does not load. Without the runtime that part is skipped and
// warn says so.
func outputCheck(ctx context.Context, warn io.Writer) func(path string) error {
	hold := os.Getenv(saveHoldEnv)
	return func(path string) error {
		if err := validate.CheckGraph(path); err != nil {
			return err
		}
		if err := validate.CheckLoads(path); errors.Is(err, ort.ErrNoRuntime) {
			fmt.Fprintf(warn, "embshrink: ONNX Runtime is not installed, so the output was not loaded in it (`%s` installs it)\n", install.Command)
		} else if err != nil {
			return err
		}
		if hold == "" {
			return nil
		}
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			return err
		}
		<-ctx.Done()
		return nil // SaveContext sees the cancelled context next
	}
}
