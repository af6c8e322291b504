package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// A torch export without dynamic axes fixes the batch at 1 (the zoo's
// gpt2_static: input_ids [1, 12]). Given files of many rows then run one
// row at a time, as ONNX Runtime accepts them: validate compares on every
// row, compress counts every calibration row, holds back its last fifth
// and chooses among candidates on it. A row of the wrong length is still
// refused, naming the file, the input and the dimension.
func TestFixedBatchManyRows(t *testing.T) {
	valNeedRuntime(t)
	model := filepath.Join("..", "..", "fixtures", "testdata", "zoo", "gpt2_static.onnx")
	dir := t.TempDir()
	ids := func(name string, rows, cols int) string {
		b := make([]byte, 8*rows*cols)
		for i := range rows * cols {
			binary.LittleEndian.PutUint64(b[8*i:], uint64((i*7919)%50257))
		}
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, rawNpy("<i8", fmt.Sprintf("(%d, %d)", rows, cols), b), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	held, calib, short := ids("held.npy", 3, 12), ids("calib.npy", 10, 12), ids("short.npy", 3, 11)

	code, stdout, stderr := runCLI("validate", model, model, "--inputs", held, "--json")
	if rep := decodeRoles(t, stdout); code != exitOK || len(rep.Outputs) == 0 || !slices.Equal(rep.Outputs[0].Shape, []int64{3, 12, 50257}) {
		t.Errorf("validate on 3 rows: exit %d, outputs %+v, stderr %s", code, rep.Outputs, stderr)
	}
	code, stdout, stderr = runCLI("compress", model, "-o", filepath.Join(dir, "out.onnx"), "--table", "wte.weight", "-M", "4", "-K", "16",
		"--iterations", "2", "--calibration", calib, "--candidates", "2", "--json")
	if code != exitOK {
		t.Fatalf("compress on 10 rows: exit %d: %s", code, stderr)
	}
	var rep struct {
		Tables []struct {
			RowsRead   int `json:"rows_read"`
			Candidates []struct {
				Seed int64 `json:"seed"`
			} `json:"candidates"`
		} `json:"tables"`
		Fidelity *struct {
			Inputs string `json:"inputs"`
		} `json:"fidelity"`
	}
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Tables) == 0 || rep.Fidelity == nil {
		t.Fatalf("compress --json %q: %v", stdout, err)
	}
	// 8 kept rows of 12 distinct ids each (7919 is prime to 50257).
	if tb := rep.Tables[0]; tb.RowsRead != 96 || len(tb.Candidates) != 2 {
		t.Errorf("rows read %d, candidates %d; want 96 (8 rows of 12) and 2", tb.RowsRead, len(tb.Candidates))
	}
	if want := "last 2 of 10 rows"; !strings.Contains(rep.Fidelity.Inputs, want) {
		t.Errorf("measured on %q, want %q", rep.Fidelity.Inputs, want)
	}
	code, _, stderr = runCLI("validate", model, model, "--inputs", short)
	if code != exitInput || !strings.Contains(stderr, "dimension 1 is 11, want 12") {
		t.Errorf("rows of 11 ids: exit %d, %q; want 2 naming the dimension", code, stderr)
	}
}
