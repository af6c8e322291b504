package main

// The hidden measure-run subcommand runs one model in a process of its own
// and prints its latency and peak RSS growth as JSON: the RSS of one process
// cannot be attributed to one of several models it loaded, so sweep
// --latency runs this binary once per model.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/embshrink/embshrink/onnxrewrite/inputs"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
	"github.com/embshrink/embshrink/onnxrewrite/sweep"
)

const measureCommandName = "measure-run"

func measureCommand() *cli.Command {
	return &cli.Command{
		Name:      measureCommandName,
		Hidden:    true,
		Usage:     "run one model on given inputs and print its latency and peak RSS growth (for sweep --latency)",
		ArgsUsage: "MODEL.onnx",
		Flags: []cli.Flag{
			&cli.StringSliceFlag{Name: "inputs", Usage: "input values as `NAME=FILE.npy` (repeatable)"},
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "MODEL.onnx")
			if err != nil {
				return err
			}
			ms, err := measureModel(path, c.StringSlice("inputs"))
			if err != nil {
				return inputError(err)
			}
			return json.NewEncoder(c.App.Writer).Encode(ms)
		},
	}
}

// measureModel loads ONNX Runtime and the inputs, notes the peak RSS, then
// creates the model's session and runs it (one warm-up run, then at least 5
// and for about half a second): the growth of the peak is the model's.
func measureModel(path string, specs []string) (*sweep.Measurement, error) {
	m, err := model.Load(path)
	if err != nil {
		return nil, err
	}
	r, err := roles.Detect(m)
	if err != nil {
		return nil, err
	}
	in, err := inputs.LoadFor(r, specs)
	if err != nil {
		return nil, err
	}
	if in, _, err = r.Complete(in, "--inputs"); err != nil {
		return nil, err
	}
	m = nil
	rt, err := openRuntime(measureCommandName)
	if err != nil {
		return nil, err
	}
	defer rt.Close()
	before, err := peakRSS()
	if err != nil {
		return nil, err
	}
	s, err := rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	if _, err := s.Run(in); err != nil {
		return nil, err
	}
	var times []float64
	start := time.Now()
	for len(times) < 5 || (time.Since(start) < 500*time.Millisecond && len(times) < 1000) {
		t0 := time.Now()
		if _, err := s.Run(in); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t0).Seconds())
	}
	slices.Sort(times)
	after, err := peakRSS()
	if err != nil {
		return nil, err
	}
	return &sweep.Measurement{SecondsPerRun: times[len(times)/2], PeakRSS: after, RSSGrowth: after - before}, nil
}

// peakRSS reads VmHWM from /proc/self/status, in bytes.
func peakRSS() (int64, error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("peak RSS: VmHWM %q: %w", v, err)
			}
			return kb << 10, nil
		}
	}
	return 0, errors.New("peak RSS: no VmHWM in /proc/self/status")
}

// measureInChild measures each model by running this binary's measure-run
// on it.
func measureInChild(specs []string) func(ctx context.Context, path string) (*sweep.Measurement, error) {
	return func(ctx context.Context, path string) (*sweep.Measurement, error) {
		if len(specs) == 0 {
			return nil, errors.New("--latency needs --inputs to run the models on")
		}
		exe, err := os.Executable()
		if err != nil {
			return nil, err
		}
		args := []string{measureCommandName, path}
		for _, s := range specs {
			args = append(args, "--inputs", s)
		}
		cmd := exec.CommandContext(ctx, exe, args...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("%s %s: %w: %s", exe, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
		}
		var ms sweep.Measurement
		if err := json.Unmarshal(stdout.Bytes(), &ms); err != nil {
			return nil, fmt.Errorf("%s: reading its output: %w", exe, err)
		}
		return &ms, nil
	}
}
