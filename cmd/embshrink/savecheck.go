package main

import (
	"context"
	"os"

	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// saveHoldEnv names a file that, when the variable is set, the check of a
// written model creates and then waits on until the command is interrupted:
// the one fixed point, temporary files written and nothing renamed, where a
// test can interrupt a save deterministically. Unset, nothing waits.
const saveHoldEnv = "EMBSHRINK_TEST_HOLD_SAVE"

// outputCheck is the check every written model passes before it is renamed
// into place: the onnx-go reader (validate.CheckGraph).
func outputCheck(ctx context.Context) func(path string) error {
	hold := os.Getenv(saveHoldEnv)
	if hold == "" {
		return validate.CheckGraph
	}
	return func(path string) error {
		if err := validate.CheckGraph(path); err != nil {
			return err
		}
		if err := os.WriteFile(hold, nil, 0o644); err != nil {
			return err
		}
		<-ctx.Done()
		return nil // SaveContext sees the cancelled context next
	}
}
