package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/embshrink/embshrink/onnxrewrite/model"
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

// gate is the check itself: the structural check, then ONNX Runtime's load
// where it is installed (loaded says whether it was).
func gate(path string) (loaded bool, err error) {
	if err := validate.CheckGraph(path); err != nil {
		return false, err
	}
	if err := validate.CheckLoads(path); errors.Is(err, ort.ErrNoRuntime) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return true, nil
}

// preview saves a model of the output's form (compress.Preview) into a
// temporary folder beside the output, with the output's save options, and
// checks it as the output will be checked: before learning, so that a
// refusal costs seconds. The folder is removed.
func (oc *outputCheck) preview(p *model.Model, out string, save model.SaveOptions) error {
	dir, err := os.MkdirTemp(filepath.Dir(out), "."+filepath.Base(out)+".preview.")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	save.Check = func(path string) error {
		_, err := gate(path)
		return err
	}
	return p.SaveContext(oc.ctx, filepath.Join(dir, filepath.Base(out)), save)
}

// check is a model.SaveOptions.Check.
func (oc *outputCheck) check(path string) error {
	loaded, err := gate(path)
	if err != nil {
		return err
	}
	oc.passed = "the structural check and loads in ONNX Runtime"
	if !loaded {
		fmt.Fprintf(oc.warn, "embshrink: ONNX Runtime is not installed, so the output was not loaded in it (`%s` installs it)\n", install.Command)
		oc.passed = "the structural check"
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
