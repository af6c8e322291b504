package model

import (
	"fmt"
	"os"
	"path/filepath"
)

// RefuseSameFiles refuses outputs that name the same file twice, that exist
// and are not regular files (a device, a FIFO, a symlink, a folder), whose
// folder is missing, or that are (through links too) one of the inputs:
// what a command checks before it writes anything.
func RefuseSameFiles(outputs, inputs []string) error {
	for i, o := range outputs {
		for _, p := range outputs[:i] {
			if filepath.Clean(o) == filepath.Clean(p) {
				return fmt.Errorf("%s: the same file is given for two outputs", o)
			}
		}
		if lst, err := os.Lstat(o); err == nil && !lst.Mode().IsRegular() {
			return fmt.Errorf("%s: exists and is not a regular file (%s); refusing to replace it", o, lst.Mode().Type())
		}
		if st, err := os.Stat(filepath.Dir(o)); err != nil || !st.IsDir() {
			return fmt.Errorf("%s: output folder %s does not exist", o, filepath.Dir(o))
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
