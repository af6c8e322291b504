package main

import (
	"encoding/binary"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
)

// runVibeNpy writes the vibe model's calibration and held-out sentences
// (the sets of onnxrewrite/compress/vibe_test.go: fixtures.VibeSentences
// seeds 1 and 2, encoded with fixtures.VibeEncode) as int64 .npy id files.
func runVibeNpy(args []string) error {
	fs := flag.NewFlagSet("vibe-npy", flag.ExitOnError)
	dir := fs.String("dir", ".", "output folder")
	calib := fs.Int("calibration", 400, "calibration sentences")
	held := fs.Int("heldout", 2000, "held-out sentences")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		seed uint64
		n    int
	}{{"vibe_calibration_ids.npy", 1, *calib}, {"vibe_heldout_ids.npy", 2, *held}} {
		ids := fixtures.VibeIDs(fixtures.VibeSentences(f.seed, f.n))
		raw := make([]byte, 8*len(ids))
		for i, v := range ids {
			binary.LittleEndian.PutUint64(raw[8*i:], uint64(v))
		}
		path := filepath.Join(*dir, f.name)
		a := &npy.Array{DType: "<i8", Shape: []int{f.n, fixtures.VibeSeqLen}, Data: raw}
		if err := npy.WriteFile(path, a); err != nil {
			return err
		}
		fmt.Println(path)
	}
	return nil
}
