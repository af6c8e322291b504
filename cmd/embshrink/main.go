// Command embshrink shrinks ONNX models by replacing their embedding tables
// with learned compositional codes (Shu & Nakayama, ICLR 2018).
//
// Exit codes: 0 success, 1 validation outside tolerance, 2 usage or input
// error, 130 interrupted by SIGINT and 143 by SIGTERM (128 plus the signal's
// number, as shells report it); an interrupted command stops, removes what
// it had begun to write and prints one line. Human output goes to stdout, progress and logs to stderr; with
// --json, stdout carries one JSON document and nothing else.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"
)

// Exit codes users gate CI on.
const (
	exitOK      = 0
	exitOutside = 1
	exitInput   = 2
	exitSIGINT  = 128 + int(syscall.SIGINT)
	exitSIGTERM = 128 + int(syscall.SIGTERM)
)

func main() {
	// SIGINT and SIGTERM cancel the context commands get as c.Context; a
	// second signal, once the first has cancelled it, kills as usual.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	finished := make(chan struct{})
	go exitAfterGrace(ctx.Done(), finished, func() int { return signalCode(ctx) }, os.Stderr)
	code := runContext(ctx, os.Args, os.Stdout, os.Stderr)
	close(finished)
	stop()
	os.Exit(code)
}

// run executes the command line and returns the process exit code. It is
// separate from main so that tests can run the whole CLI in-process.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run with a context that signals cancel.
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) (code int) {
	defer recoverPanic(args, stderr, &code)
	app := newApp(stdout, stderr)
	err := app.RunContext(ctx, flagsFirst(app, args))
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil {
		// A command that finished despite the signal returned nil above.
		code, name := exitSIGINT, "SIGINT"
		if signalCode(ctx) == exitSIGTERM {
			code, name = exitSIGTERM, "SIGTERM"
		}
		fmt.Fprintf(stderr, "embshrink: interrupted by %s; stopped without leaving partial output\n", name)
		return code
	}
	var ec cli.ExitCoder
	if errors.As(err, &ec) {
		if msg := err.Error(); msg != "" {
			fmt.Fprintln(stderr, "embshrink:", msg)
		}
		return ec.ExitCode()
	}
	// Anything else (flag parsing, bad arguments, unreadable input) is a usage
	// or input error.
	fmt.Fprintln(stderr, "embshrink:", err)
	return exitInput
}

// signalCode is the exit code for the signal that cancelled ctx.
func signalCode(ctx context.Context) int {
	if cause := context.Cause(ctx); cause != nil && strings.HasPrefix(cause.Error(), syscall.SIGTERM.String()) {
		return exitSIGTERM
	}
	return exitSIGINT
}

func newApp(stdout, stderr io.Writer) *cli.App {
	cli.VersionPrinter = printVersion
	app := newCommands(stdout, stderr)
	for _, c := range app.Commands {
		c.Before = checkFloatFlags
	}
	return app
}

func newCommands(stdout, stderr io.Writer) *cli.App {
	return &cli.App{
		Name:            "embshrink",
		Usage:           "shrink ONNX models by replacing embedding tables with compositional codes",
		Writer:          stdout,
		ErrWriter:       stderr,
		HideHelpCommand: true,
		Version:         toolVersion(),
		// Paths in repeatable flags may hold commas.
		DisableSliceFlagSeparator: true,
		// Errors are printed once, by run, with the right exit code.
		ExitErrHandler: func(*cli.Context, error) {},
		OnUsageError: func(_ *cli.Context, err error, _ bool) error {
			return cli.Exit(err.Error(), exitInput)
		},
		Commands: []*cli.Command{
			inspectCommand(),
			learnCommand(),
			compressCommand(),
			rewriteCommand(),
			validateCommand(),
			sweepCommand(),
			runtimeCommand(),
			measureCommand(),
			tokenizeCommand(),
		},
	}
}

// flagsFirst moves a subcommand's flags ahead of its positional arguments,
// so that "inspect MODEL --json" works like "inspect --json MODEL" (the cli
// package stops reading flags at the first positional argument). A "--"
// ends the flags as usual.
func flagsFirst(app *cli.App, args []string) []string {
	if len(args) < 3 {
		return args
	}
	cmd := app.Command(args[1])
	if cmd == nil {
		return args
	}
	takesValue := map[string]bool{}
	for _, f := range cmd.Flags {
		_, isBool := f.(*cli.BoolFlag)
		for _, n := range f.Names() {
			takesValue[n] = !isBool
		}
	}
	var flags, pos []string
	rest := args[2:]
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i:]...)
			break
		}
		if len(a) < 2 || a[0] != '-' {
			pos = append(pos, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if takesValue[name] && i+1 < len(rest) {
			i++
			flags = append(flags, rest[i])
		}
	}
	out := append([]string{args[0], args[1]}, flags...)
	return append(out, pos...)
}

// inputError marks err as a usage or input error (exit 2).
func inputError(err error) error {
	if err == nil {
		return nil
	}
	return cli.Exit(err.Error(), exitInput)
}
