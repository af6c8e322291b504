package npy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// systemPython is Debian's interpreter, which has python3-numpy; the python3
// on PATH may be another installation without numpy.
const systemPython = "/usr/bin/python3"

// requireNumpy skips the test when systemPython cannot import numpy.
func requireNumpy(t *testing.T) {
	t.Helper()
	out, err := exec.Command(systemPython, "-c", "import numpy; print(numpy.__version__)").CombinedOutput()
	if err != nil {
		t.Skipf("skipping numpy interop: %s with numpy is not available (install Debian's python3-numpy): %v: %s",
			systemPython, err, bytes.TrimSpace(out))
	}
}

func runPython(t *testing.T, script string, args ...string) string {
	t.Helper()
	cmd := exec.Command(systemPython, append([]string{"-c", script}, args...)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	return string(out)
}

type interopCase struct {
	Name  string `json:"name"`
	DType string `json:"descr"`
	Shape []int  `json:"shape"`
}

// numpyCheck loads each file our writer produced and compares it with the
// raw bytes next to it.
const numpyCheck = `
import json, sys, numpy as np
d = sys.argv[1]
for c in json.load(open(d + "/manifest.json")):
    a = np.load(d + "/" + c["name"] + ".npy", allow_pickle=False)
    raw = open(d + "/" + c["name"] + ".raw", "rb").read()
    assert a.dtype.str == c["descr"], (c, a.dtype.str)
    assert a.shape == tuple(c["shape"]), (c, a.shape)
    assert a.flags.c_contiguous
    assert a.tobytes() == raw, c
    with open(d + "/" + c["name"] + ".npy", "rb") as f:
        v = np.lib.format.read_magic(f)
        np.lib.format._read_array_header(f, v)
        assert f.tell() % 64 == 0, (c, f.tell())
print("ok")
`

func TestNumpyReadsOurFiles(t *testing.T) {
	requireNumpy(t)
	dir := t.TempDir()
	var cases []interopCase
	shapes := [][]int{{}, {0}, {7}, {3, 5}, {2, 0, 3}, {2, 3, 4}}
	for _, dt := range allDTypes {
		d, _ := parseDType(dt)
		for i, shape := range shapes {
			n, _ := numElements(shape)
			data := pattern(n * d.size)
			switch {
			case d.kind == 'b':
				for j := range data {
					data[j] &= 1
				}
			case d.kind == 'f' && d.size == 2:
				// Keep half floats finite and non-NaN so bytes compare.
				for j := 1; j < len(data); j += 2 {
					data[j] &= 0x3b
				}
			}
			name := fmt.Sprintf("%s_%d", strings.NewReplacer("<", "le", "|", "na").Replace(dt), i)
			if err := WriteFile(filepath.Join(dir, name+".npy"), &Array{DType: dt, Shape: shape, Data: data}); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name+".raw"), data, 0o644); err != nil {
				t.Fatal(err)
			}
			cases = append(cases, interopCase{name, dt, shape})
		}
	}
	m, _ := json.Marshal(cases)
	if err := os.WriteFile(filepath.Join(dir, "manifest.json"), m, 0o644); err != nil {
		t.Fatal(err)
	}
	if out := runPython(t, numpyCheck, dir); strings.TrimSpace(out) != "ok" {
		t.Errorf("numpy check printed %q", out)
	}
}

// numpyWrite saves arrays in several dtypes and format versions, with the
// expected C-order little-endian bytes next to each.
const numpyWrite = `
import json, sys, numpy as np
d = sys.argv[1]
cases = []
rng = np.random.default_rng(1)
def save(name, a, version=None, expect=True):
    with open(d + "/" + name + ".npy", "wb") as f:
        if version is None:
            np.save(f, a)
        else:
            np.lib.format.write_array(f, a, version=version)
    if expect:
        c = np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"))
        open(d + "/" + name + ".raw", "wb").write(c.tobytes())
        cases.append({"name": name, "descr": c.dtype.str, "shape": list(a.shape)})
for t in ["f2", "f4", "f8", "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "b1"]:
    for i, shape in enumerate([(), (0,), (5,), (3, 4), (2, 3, 2)]):
        a = (rng.standard_normal(shape) * 100).astype(t)
        save("%s_%d" % (t, i), a)
save("v2", np.arange(12, dtype="<f4").reshape(3, 4), version=(2, 0))
save("v3", np.arange(6, dtype="<i8").reshape(2, 3), version=(3, 0))
save("sliced", np.arange(20, dtype="<i4").reshape(4, 5)[:, 1:3])
save("fortran", np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
save("transposed", rng.standard_normal((7, 5)).astype("<f4").T)
save("transposed_i8", np.bincount(rng.integers(0, 12, 100), minlength=12).reshape(3, 4).T)
save("fortran3d", np.asfortranarray(np.arange(24, dtype="<u2").reshape(2, 3, 4)))
save("fortran_v3", np.asfortranarray(np.arange(6, dtype="|u1").reshape(3, 2)), version=(3, 0))
for name in ["fortran", "transposed", "transposed_i8", "fortran3d", "fortran_v3"]:
    with open(d + "/" + name + ".npy", "rb") as f:
        assert np.lib.format._read_array_header(f, np.lib.format.read_magic(f))[1], name + " is not in Fortran order"
save("bigendian", np.arange(4, dtype=">f4"), expect=False)
save("complex", np.arange(4, dtype="<c8"), expect=False)
json.dump(cases, open(d + "/manifest.json", "w"))
`

func TestReadNumpyFiles(t *testing.T) {
	requireNumpy(t)
	dir := t.TempDir()
	runPython(t, numpyWrite, dir)
	m, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases []interopCase
	if err := json.Unmarshal(m, &cases); err != nil {
		t.Fatal(err)
	}
	if len(cases) < 60 {
		t.Fatalf("numpy wrote only %d cases", len(cases))
	}
	for _, c := range cases {
		t.Run(c.Name, func(t *testing.T) {
			a, err := ReadFile(filepath.Join(dir, c.Name+".npy"))
			if err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(dir, c.Name+".raw"))
			if err != nil {
				t.Fatal(err)
			}
			if a.DType != c.DType || !reflect.DeepEqual(a.Shape, c.Shape) || !bytes.Equal(a.Data, raw) {
				t.Errorf("got %s %v (%d bytes), want %s %v (%d bytes)", a.DType, a.Shape, len(a.Data), c.DType, c.Shape, len(raw))
			}
		})
	}
	for name, want := range map[string]string{"bigendian": "big-endian", "complex": "unsupported dtype"} {
		path := filepath.Join(dir, name+".npy")
		_, err := ReadFile(path)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %v, want one naming %s and mentioning %q", name, err, path, want)
		}
	}
}
