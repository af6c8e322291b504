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
// into place: embshrink's structural check held to the ONNX spec
// (validate.CheckGraph), then ONNX Runtime must load it
// (validate.CheckLoads), so that no command ends well with a model that
// does not load. Without the runtime that part is skipped and warn says so.
// onnx-go's independent reading (validate.ReadOnnxGo) is taken beside them,
// never a gate (it decodes only part of what ONNX Runtime runs), and said
// by report once the output is in place.
type outputCheck struct {
	ctx     context.Context
	warn    io.Writer
	hold    string
	passed  string
	reading validate.OnnxGoReading
}

func newOutputCheck(ctx context.Context, warn io.Writer) *outputCheck {
	return &outputCheck{ctx: ctx, warn: warn, hold: os.Getenv(saveHoldEnv)}
}

// check is a model.SaveOptions.Check.
func (oc *outputCheck) check(path string) error {
	if err := validate.CheckGraph(path); err != nil {
		return err
	}
	oc.passed = "the structural check and loads in ONNX Runtime"
	if err := validate.CheckLoads(path); errors.Is(err, ort.ErrNoRuntime) {
		fmt.Fprintf(oc.warn, "embshrink: ONNX Runtime is not installed, so the output was not loaded in it (`%s` installs it)\n", install.Command)
		oc.passed = "the structural check"
	} else if err != nil {
		return err
	}
	oc.reading = validate.ReadOnnxGo(path)
	if oc.hold == "" {
		return nil
	}
	if err := os.WriteFile(oc.hold, nil, 0o644); err != nil {
		return err
	}
	<-oc.ctx.Done()
	return nil // SaveContext sees the cancelled context next
}

// report says on warn what the written model passed and what onnx-go made
// of it.
func (oc *outputCheck) report() {
	fmt.Fprintf(oc.warn, "embshrink: the output passes %s; independent reader, not a gate: %s\n", oc.passed, oc.reading)
}
