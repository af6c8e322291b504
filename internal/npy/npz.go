package npy

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Member is one array of an .npz archive, named as numpy names it: the
// member's file name without ".npy" (np.savez(f, ids=a) stores "ids.npy").
type Member struct {
	Name  string
	Array *Array
}

// ReadNPZ reads every array of the .npz archive at path (numpy's np.savez,
// members stored, or np.savez_compressed, deflated), in archive order. A
// member that is not a whole .npy file, or two members of one name, are
// errors naming the member.
func ReadNPZ(path string) ([]Member, error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("npz: %s: %w", path, err)
	}
	defer zr.Close()
	var out []Member
	seen := map[string]bool{}
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/") {
			continue
		}
		name, ok := strings.CutSuffix(f.Name, ".npy")
		if !ok || name == "" {
			return nil, fmt.Errorf("npz: %s: member %q is not an .npy file", path, f.Name)
		}
		if seen[name] {
			return nil, fmt.Errorf("npz: %s: two members are named %q", path, f.Name)
		}
		seen[name] = true
		a, err := readMember(f)
		if err != nil {
			return nil, fmt.Errorf("npz: %s: member %q: %w", path, f.Name, err)
		}
		out = append(out, Member{Name: name, Array: a})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("npz: %s: holds no arrays", path)
	}
	return out, nil
}

// readMember reads one member, which must hold exactly one array.
func readMember(f *zip.File) (*Array, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	a, err := Read(rc)
	if err != nil {
		return nil, err
	}
	var one [1]byte
	if n, err := rc.Read(one[:]); n > 0 {
		return nil, errors.New("trailing bytes after the array")
	} else if err != nil && err != io.EOF {
		return nil, err
	}
	return a, nil
}

// WriteNPZ writes the members to path as an .npz archive that np.load
// reads, deflated when compress is set (np.savez_compressed) and stored
// otherwise (np.savez). Like WriteFile it never leaves a partial file.
func WriteNPZ(path string, members []Member, compress bool) error {
	method := zip.Store
	if compress {
		method = zip.Deflate
	}
	for _, m := range members {
		if _, err := m.Array.check(); err != nil {
			return fmt.Errorf("npz: %s: member %q: %w", path, m.Name, err)
		}
	}
	err := writeAtomic(path, func(w io.Writer) error {
		zw := zip.NewWriter(w)
		for _, m := range members {
			mw, err := zw.CreateHeader(&zip.FileHeader{Name: m.Name + ".npy", Method: method})
			if err != nil {
				return err
			}
			if err := Write(mw, m.Array); err != nil {
				return err
			}
		}
		return zw.Close()
	})
	if err != nil {
		return fmt.Errorf("npz: %s: %w", path, err)
	}
	return nil
}
