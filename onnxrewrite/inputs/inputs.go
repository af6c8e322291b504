// Package inputs reads a model's inputs from .npy files (NAME=FILE.npy, or
// FILE.npy for a model with one ids input) and .npz archives holding them
// by name, converting each to the element type the model declares where
// that is exact. It is shared by calibration and validation; it runs
// nothing.
package inputs

import (
	"fmt"
	"os"
	"strings"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Load reads inputs for the model from files (see LoadFor), detecting the
// roles of its inputs first.
func Load(m *model.Model, specs []string) (map[string]model.HostTensor, error) {
	r, err := roles.Detect(m)
	if err != nil {
		return nil, err
	}
	return LoadFor(r, specs)
}

// LoadFor reads inputs for the model whose input roles are r. A spec is
// NAME=FILE.npy; FILE.npy alone when the model has one ids input (or one
// integer input); or FILE.npz, an archive of NAME.npy members (numpy's
// np.savez or np.savez_compressed) that gives every input it names.
//
// Values are converted to the input's declared element type as numpy's
// astype would, where that is exact: ids (inputs whose values index a
// table, or bag offsets) must come from an integer file and fit the type;
// other inputs take any dtype whose values the type holds exactly (a
// float32 mask of 0.0 and 1.0 for a bool or int64 mask), a float32 file
// as it is for a float32 input, and float16 or float32 files (rounded) for
// a float16 input. A value that does not fit is an error naming the file,
// the input and the element.
//
// The file's rank must be the input's declared rank, and its sizes must
// match the input's static dimensions (but the first, of any number of
// samples, where the model's batch is fixed at 1: they run one at a
// time): a [batch, seq] input takes a [rows, seq] file as it is. The one
// reshape is for a rank-1 input, which takes a file of any rank flattened
// in C order. Anything else is an error naming the file and the input.
func LoadFor(r *roles.Roles, specs []string) (map[string]model.HostTensor, error) {
	out := map[string]model.HostTensor{}
	add := func(name, file string, a *npy.Array) error {
		in, ok := r.Get(name)
		if !ok {
			return fmt.Errorf("%s: %q is no input of %s; its inputs are %q", file, name, r.Path, inputNames(r))
		}
		if _, dup := out[name]; dup {
			return fmt.Errorf("%s: calibration input %q is given twice", r.Path, name)
		}
		t, err := convert(file, a, r, in)
		if err != nil {
			return err
		}
		out[name] = t
		return nil
	}
	for _, spec := range specs {
		name, file, err := parseSpec(r, spec)
		if err != nil {
			return nil, err
		}
		if name == "" {
			members, err := npy.ReadNPZ(file)
			if err != nil {
				return nil, err
			}
			for _, mb := range members {
				if err := add(mb.Name, fmt.Sprintf("%s member %s.npy", file, mb.Name), mb.Array); err != nil {
					return nil, err
				}
			}
			continue
		}
		a, err := npy.ReadFile(file)
		if err != nil {
			return nil, err
		}
		if err := add(name, file, a); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// isNPZ says a file name is an .npz archive's.
func isNPZ(file string) bool { return strings.HasSuffix(strings.ToLower(file), ".npz") }

// parseSpec splits a spec into the input it names and its file; name is
// "" for an .npz archive, which names its inputs itself.
func parseSpec(r *roles.Roles, spec string) (name, file string, err error) {
	file = spec
	if i := strings.Index(spec, "="); i >= 0 {
		if _, ok := r.Get(spec[:i]); ok {
			name, file = spec[:i], spec[i+1:]
		} else if _, err := os.Stat(spec); err != nil {
			return "", "", fmt.Errorf("%s: calibration %q: the model has no input %q; its inputs are %q", r.Path, spec, spec[:i], inputNames(r))
		}
	}
	switch {
	case isNPZ(file) && name != "":
		return "", "", fmt.Errorf("%s: %s is an .npz archive, which names its inputs itself: give it without %s=", r.Path, file, name)
	case isNPZ(file) || name != "":
		return name, file, nil
	}
	var ids, ints []string
	for _, in := range r.Inputs {
		if in.Kind == roles.IDs {
			ids = append(ids, in.Name)
		}
		if model.IsInteger(in.Elem) {
			ints = append(ints, in.Name)
		}
	}
	switch {
	case len(ints) == 1:
		return ints[0], file, nil
	case len(ids) == 1:
		return ids[0], file, nil
	}
	return "", "", fmt.Errorf("%s: calibration %q: the model has %d integer inputs %q; say which one as NAME=FILE.npy, or give an .npz of all of them by name", r.Path, spec, len(ints), ints)
}

func inputNames(r *roles.Roles) []string {
	names := make([]string, len(r.Inputs))
	for i, in := range r.Inputs {
		names[i] = in.Name
	}
	return names
}
