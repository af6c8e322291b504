package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// stopGrace is how long a command may take to stop once SIGINT or SIGTERM
// has cancelled its context: a phase that does not look at the context
// (a run inside ONNX Runtime, a scan of a huge table) is cut short after it.
const stopGrace = 1500 * time.Millisecond

// exitAfterGrace ends the process stopGrace after done is closed, unless
// finished is closed first: the temporary files of saves under way are
// removed and the usual interrupt line printed.
func exitAfterGrace(done <-chan struct{}, finished <-chan struct{}, code func() int, stderr io.Writer) {
	select {
	case <-finished:
		return
	case <-done:
	}
	select {
	case <-finished:
	case <-time.After(stopGrace):
		model.RemoveTempFiles()
		c := code()
		name := "SIGINT"
		if c == exitSIGTERM {
			name = "SIGTERM"
		}
		fmt.Fprintf(stderr, "embshrink: interrupted by %s; stopped without leaving partial output\n", name)
		os.Exit(c)
	}
}

// recoverPanic is the safety net of runContext: a panic that escapes a
// command becomes one line naming the command and its input, exit 2, with
// the temporary files of saves under way removed.
func recoverPanic(args []string, stderr io.Writer, code *int) {
	r := recover()
	if r == nil {
		return
	}
	model.RemoveTempFiles()
	cmd, input := "embshrink", ""
	if len(args) > 1 {
		cmd = args[1]
	}
	for i := 2; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			input = args[i] + ": "
			break
		}
	}
	msg := strings.ReplaceAll(fmt.Sprint(r), "\n", " ")
	fmt.Fprintf(stderr, "embshrink: %s: %sinternal error (a bug; please report it): %s\n", cmd, input, msg)
	*code = exitInput
}

// checkFloatFlags refuses a float flag set to NaN or an infinity: no
// option means either, and NaN compares false with every bound, so it
// would pass every range check after it.
func checkFloatFlags(c *cli.Context) error {
	for _, f := range c.Command.Flags {
		ff, ok := f.(*cli.Float64Flag)
		if !ok || !c.IsSet(ff.Name) {
			continue
		}
		if v := c.Float64(ff.Name); math.IsNaN(v) || math.IsInf(v, 0) {
			return cli.Exit(fmt.Sprintf("--%s %v: want a finite number", ff.Name, v), exitInput)
		}
	}
	return nil
}
