package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/internal/testkit"
)

// roleReport is the part of validate's JSON the role tests read.
type roleReport struct {
	Pass   bool `json:"pass"`
	Inputs []struct {
		Name    string `json:"name"`
		Source  string `json:"source"`
		Role    string `json:"role"`
		Values  string `json:"values"`
		NotReal bool   `json:"not_real_data"`
	} `json:"inputs"`
	Outputs []struct {
		Shape      []int64 `json:"shape"`
		MaxAbsDiff float64 `json:"max_abs_diff"`
		Cosine     float64 `json:"cosine"`
	} `json:"outputs"`
	NotRealInputs []string `json:"not_real_inputs"`
}

func decodeRoles(t *testing.T, stdout string) roleReport {
	t.Helper()
	var rep roleReport
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, stdout)
	}
	return rep
}

// The fastText-style classifier with a float32 mask, end to end: compress
// calibrates on real ids and float masks (.npy files or one .npz), validate
// and sweep judge on held-out ones, and a mask left out is generated as
// ones and reported so.
func TestMaskedBagEndToEnd(t *testing.T) {
	valNeedRuntime(t)
	dir := t.TempDir()
	if err := fixtures.WriteMaskedBag(dir); err != nil {
		t.Fatal(err)
	}
	at := func(name string) string { return filepath.Join(dir, name) }
	orig, small := at(fixtures.MaskedBagModel), at("small.onnx")
	held := at("heldout.npz")
	var members []npy.Member
	for _, f := range []struct{ name, file string }{{"mask", fixtures.MaskedHeldMask}, {"ids", fixtures.MaskedHeldIDs}} {
		a, err := npy.ReadFile(at(f.file))
		if err != nil {
			t.Fatal(err)
		}
		members = append(members, npy.Member{Name: f.name, Array: a})
	}
	if err := npy.WriteNPZ(held, members, true); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := runCLI("compress", orig, "-o", small, "--json",
		"--calibration", "ids="+at(fixtures.MaskedBagIDs), "--calibration", "mask="+at(fixtures.MaskedBagMask))
	if code != exitOK {
		t.Fatalf("compress: exit %d: %s", code, stderr)
	}
	var cj compressJSON
	if err := json.Unmarshal([]byte(stdout), &cj); err != nil || len(cj.Tables) != 1 || !cj.Tables[0].Calibrated || cj.Tables[0].RowsRead == 0 {
		t.Fatalf("compress report %+v (%v)", cj, err)
	}

	validateJSON := func(args ...string) roleReport {
		t.Helper()
		code, stdout, stderr := runCLI(append([]string{"validate", orig, small, "--json"}, args...)...)
		if code != exitOK && code != exitOutside {
			t.Fatalf("validate %v: exit %d: %s", args, code, stderr)
		}
		return decodeRoles(t, stdout)
	}
	files := validateJSON("--inputs", "ids="+at(fixtures.MaskedHeldIDs), "--inputs", "mask="+at(fixtures.MaskedHeldMask))
	npz := validateJSON("--inputs", held)
	ones := validateJSON("--inputs", "ids="+at(fixtures.MaskedHeldIDs))
	if len(files.Inputs) != 2 || files.Inputs[1].Source != "given" || files.Inputs[1].Role != "attention mask" || files.Inputs[1].Values != "values in [0, 1]" {
		t.Errorf("given float mask reported as %+v", files.Inputs)
	}
	if files.Outputs[0].Cosine < 0.99 || !slices.Equal(files.Outputs[0].Shape, []int64{1024, 4}) {
		t.Errorf("on held-out ids and masks: %+v", files.Outputs[0])
	}
	if !reflect.DeepEqual(npz.Outputs, files.Outputs) {
		t.Errorf("the .npz gave %+v, the .npy files %+v", npz.Outputs[0], files.Outputs[0])
	}
	m := ones.Inputs[1]
	if m.Source != "generated" || m.Role != "attention mask" || !strings.HasPrefix(m.Values, "ones") || m.NotReal {
		t.Errorf("mask left out: %+v, want generated ones", m)
	}
	if ones.Outputs[0].MaxAbsDiff == files.Outputs[0].MaxAbsDiff {
		t.Error("the real masks and masks of ones gave the same figures: the mask files were not used")
	}

	// The text report says what each input was fed.
	_, text, _ := runCLI("validate", orig, small, "--inputs", "ids="+at(fixtures.MaskedHeldIDs))
	if !strings.Contains(text, "attention mask  generated: ones") {
		t.Errorf("text report lacks the generated mask:\n%s", text)
	}

	// Calibration with the mask left out makes it by role and says so.
	code, _, stderr = runCLI("compress", orig, "-o", at("small2.onnx"), "--calibration", at(fixtures.MaskedBagIDs))
	if code != exitOK || !strings.Contains(stderr, "calibration input mask (attention mask) not given: ones") {
		t.Errorf("compress without the mask: exit %d, stderr %s", code, stderr)
	}

	code, stdout, stderr = runCLI("sweep", orig, "-M", "8", "-K", "16", "--references", "none", "--codes-dir", at("codes"),
		"--calibration", "ids="+at(fixtures.MaskedBagIDs), "--calibration", "mask="+at(fixtures.MaskedBagMask), "--inputs", held)
	if code != exitOK || !strings.Contains(stdout, "8x16") {
		t.Errorf("sweep: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
}

// Inputs no role describes: validate marks them and says the result stands
// on generated data; calibration refuses to make them up, naming the flag.
func TestInputsWithoutRole(t *testing.T) {
	valNeedRuntime(t)
	f, ok := fixtures.InputRole("roles_dense")
	if !ok {
		t.Fatalf("no InputRoles fixture %q", "roles_dense")
	}
	path := testkit.Write(t, f)
	code, stdout, stderr := runCLI("validate", path, path)
	if code != exitOK || !strings.Contains(stdout, "standard normal: not real data") || !strings.Contains(stdout, "note: this result stands on generated data: input(s) dense") {
		t.Errorf("validate: exit %d, stdout %s, stderr %s", code, stdout, stderr)
	}
	ids := filepath.Join(t.TempDir(), "ids.npy")
	if err := npy.WriteFile(ids, npy.FromInt64([]int{2, 3}, []int64{1, 2, 3, 4, 5, 6})); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = runCLI("compress", path, "-o", filepath.Join(t.TempDir(), "out.onnx"), "--calibration", "ids="+ids)
	if code != exitInput || !strings.Contains(stderr, `input "dense"`) || !strings.Contains(stderr, "--calibration dense=FILE.npy") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
		t.Errorf("compress: exit %d, stderr %q; want one line naming dense and --calibration dense=FILE.npy", code, stderr)
	}
}

// A batch fixed at 1 judged on --samples 64 runs 64 batches of 1, and a
// merged decoder starts from an empty past: --dim past_sequence_length=0
// is allowed, a zero for another dimension is not.
func TestValidateShapesByRole(t *testing.T) {
	valNeedRuntime(t)
	paths := map[string]string{}
	for _, f := range fixtures.InputRoles() {
		paths[f.Name] = testkit.Write(t, f)
	}
	fixed := paths["roles_fixed_batch"]
	code, stdout, stderr := runCLI("validate", fixed, fixed, "--samples", "64", "--json")
	if rep := decodeRoles(t, stdout); code != exitOK || !slices.Equal(rep.Outputs[0].Shape, []int64{64, 4}) {
		t.Errorf("fixed batch: exit %d, outputs %+v, stderr %s", code, rep.Outputs, stderr)
	}
	dec := paths["roles_merged_decoder"]
	code, stdout, stderr = runCLI("validate", dec, dec, "--dim", "past_sequence_length=0", "--dim", "sequence_length=5", "--json")
	rep := decodeRoles(t, stdout)
	if code != exitOK || !slices.Equal(rep.Outputs[1].Shape, []int64{64, 2, 5, 8}) {
		t.Errorf("decoder: exit %d, outputs %+v, stderr %s", code, rep.Outputs, stderr)
	}
	code, _, stderr = runCLI("validate", dec, dec, "--dim", "sequence_length=0")
	if code != exitInput || !strings.Contains(stderr, "only a past cache's length may be 0") {
		t.Errorf("sequence_length=0: exit %d, stderr %s", code, stderr)
	}
}
