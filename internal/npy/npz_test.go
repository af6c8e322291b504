package npy

import (
	"archive/zip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// npzMembers are arrays of the dtypes a model's inputs come in.
func npzMembers() []Member {
	return []Member{
		{"ids", FromInt64([]int{2, 3}, []int64{5, 6, 7, 0, 1, 2})},
		{"mask", FromFloat32([]int{2, 3}, []float32{1, 1, 0, 1, 0, 0})},
		{"flags", &Array{DType: "|b1", Shape: []int{2}, Data: []byte{1, 0}}},
	}
}

// WriteNPZ's archives, stored and deflated, read back member by member in
// order.
func TestNPZRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		path := filepath.Join(t.TempDir(), "all.npz")
		if err := WriteNPZ(path, npzMembers(), compress); err != nil {
			t.Fatal(err)
		}
		zr, err := zip.OpenReader(path)
		if err != nil {
			t.Fatal(err)
		}
		want := zip.Store
		if compress {
			want = zip.Deflate
		}
		for _, f := range zr.File {
			if f.Method != want {
				t.Errorf("compress %v: member %s has method %d, want %d", compress, f.Name, f.Method, want)
			}
		}
		zr.Close()
		got, err := ReadNPZ(path)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, npzMembers()) {
			t.Errorf("compress %v: read %+v, want %+v", compress, got, npzMembers())
		}
	}
}

// Archives that are not a set of .npy files are refused, naming the file
// and the member.
func TestNPZErrors(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, files map[string][]byte) string {
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		for _, n := range []string{"a.npy", "b.txt", "a", "c.npy"} {
			if b, ok := files[n]; ok {
				w, err := zw.Create(n)
				if err != nil {
					t.Fatal(err)
				}
				w.Write(b)
			}
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	var good strings.Builder
	if err := Write(&good, FromInt64([]int{2}, []int64{1, 2})); err != nil {
		t.Fatal(err)
	}
	npyBytes := []byte(good.String())
	notZip := filepath.Join(dir, "plain.npz")
	if err := os.WriteFile(notZip, npyBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		path, want string
	}{
		{write("other.npz", map[string][]byte{"a.npy": npyBytes, "b.txt": []byte("x")}), `member "b.txt" is not an .npy file`},
		{write("trailing.npz", map[string][]byte{"c.npy": append(append([]byte{}, npyBytes...), 0)}), `member "c.npy": trailing bytes`},
		{write("short.npz", map[string][]byte{"a.npy": npyBytes[:len(npyBytes)-3]}), `member "a.npy": reading 16 data bytes`},
		{write("empty.npz", nil), "holds no arrays"},
		{notZip, "not a valid zip file"},
		{filepath.Join(dir, "none.npz"), "none.npz"},
	}
	for _, c := range cases {
		_, err := ReadNPZ(c.path)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: error %v, want one naming the file and mentioning %q", filepath.Base(c.path), err, c.want)
		}
	}
}

// numpyNPZ writes np.savez and np.savez_compressed archives of an int64
// and a float32 array, and reads an archive of ours.
const numpyNPZ = `
import sys, numpy as np
d = sys.argv[1]
ids = np.arange(6, dtype=np.int64).reshape(2, 3)
mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=np.float32)
np.savez(d + "/stored.npz", ids=ids, mask=mask)
np.savez_compressed(d + "/deflated.npz", ids=ids, mask=mask)
z = np.load(d + "/ours.npz")
assert sorted(z.files) == ["flags", "ids", "mask"], z.files
assert z["mask"].dtype == np.float32 and z["mask"].tolist() == [[1, 1, 0], [1, 0, 0]]
assert z["ids"].tolist() == [[5, 6, 7], [0, 1, 2]]
assert z["flags"].dtype == np.bool_
print("ok")
`

func TestNPZNumpyInterop(t *testing.T) {
	requireNumpy(t)
	dir := t.TempDir()
	if err := WriteNPZ(filepath.Join(dir, "ours.npz"), npzMembers(), true); err != nil {
		t.Fatal(err)
	}
	if out := runPython(t, numpyNPZ, dir); strings.TrimSpace(out) != "ok" {
		t.Fatalf("numpy printed %q", out)
	}
	for _, name := range []string{"stored.npz", "deflated.npz"} {
		ms, err := ReadNPZ(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if len(ms) != 2 || ms[0].Name != "ids" || ms[1].Name != "mask" {
			t.Fatalf("%s: members %+v", name, ms)
		}
		ids, err := ms[0].Array.Int64s()
		if err != nil || !reflect.DeepEqual(ids, []int64{0, 1, 2, 3, 4, 5}) || !reflect.DeepEqual(ms[0].Array.Shape, []int{2, 3}) {
			t.Errorf("%s: ids %v %v (%v)", name, ids, ms[0].Array.Shape, err)
		}
		mask, err := ms[1].Array.Float32s()
		if err != nil || ms[1].Array.DType != "<f4" || !reflect.DeepEqual(mask, []float32{1, 1, 0, 1, 0, 0}) {
			t.Errorf("%s: mask %s %v (%v)", name, ms[1].Array.DType, mask, err)
		}
	}
}
