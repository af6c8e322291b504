package model

import (
	"fmt"
	"os"
	"path/filepath"
)

// RefuseSameFiles refuses outputs that name the same file twice, or that
// are (through links too) one of the inputs: what a command checks before
// it writes anything.
func RefuseSameFiles(outputs, inputs []string) error {
	for i, o := range outputs {
		for _, p := range outputs[:i] {
			if filepath.Clean(o) == filepath.Clean(p) {
				return fmt.Errorf("%s: the same file is given for two outputs", o)
			}
		}
		st, err := os.Stat(o)
		if err != nil {
			continue
		}
		for _, in := range inputs {
			if in == "" {
				continue
			}
			if ist, err := os.Stat(in); err == nil && os.SameFile(st, ist) {
				return fmt.Errorf("%s: refusing to overwrite the input %s", o, in)
			}
		}
	}
	return nil
}
