package main

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// e2eOutcome is what a case must end in: refused (exit 2, one line), a
// model that loads and runs in ONNX Runtime (exit 0, validate does not
// exit 2), or either of the two.
type e2eOutcome int

const (
	refused e2eOutcome = iota
	works
	either
)

// e2eCase is one row of TestHostileEndToEnd: setup edits the environment,
// args are the command line (with {model}, {out}, {in}, {aux} replaced).
type e2eCase struct {
	name    string
	setup   func(t *testing.T, e *hostileEnv)
	args    []string
	outcome e2eOutcome
	want    []string // in stderr when refused
}

// compressArgs is a quick compress of the hostile model into {out}.
var compressArgs = []string{"compress", "{model}", "-o", "{out}", "-M", "2", "-K", "16", "--min-table-bytes", "0"}

func withArgs(base []string, extra ...string) []string {
	return append(append([]string{}, base...), extra...)
}

// regularSnapshot hashes the regular files under root and records the
// others by type, never opening them (a FIFO would block).
func regularSnapshot(t *testing.T, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if !d.Type().IsRegular() {
			out[rel] = d.Type().String()
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[rel] = fmt.Sprintf("%x", sha256.Sum256(b))
		return nil
	})
	return out
}

// TestHostileEndToEnd runs whole commands on models that ONNX Runtime
// accepts but that are unusual, and on unusual paths: each must give a
// model that loads and runs in ONNX Runtime (validated against the input),
// or exit 2 with one line naming the file and the field; never a panic,
// never a changed input.
func TestHostileEndToEnd(t *testing.T) {
	valNeedRuntime(t)
	start := time.Now()
	cases := hostileE2ECases()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { runE2ECase(t, c) })
	}
	t.Logf("%d end-to-end hostile cases in %.1fs", len(cases), time.Since(start).Seconds())
}

func runE2ECase(t *testing.T, c e2eCase) {
	e := newHostileEnv(t)
	e.prep = shapedIDs
	e.editModel(t, func(*onnxpb.ModelProto) {})
	if c.setup != nil {
		c.setup(t, e)
	}
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = strings.NewReplacer("{model}", e.model, "{out}", e.output, "{in}", e.in, "{aux}", e.aux).Replace(a)
	}
	before := regularSnapshot(t, e.in)
	beforeOut := regularSnapshot(t, e.out)
	code, stdout, stderr := runCLI(args...)
	line := strings.TrimSuffix(stderr, "\n")
	if strings.Contains(stderr, "panic") || strings.Contains(stderr, "goroutine ") || strings.Contains(stderr, "internal error") {
		t.Fatalf("panic: %s", stderr)
	}
	after := regularSnapshot(t, e.in)
	for p, h := range before {
		if after[p] != h {
			t.Errorf("input %s changed", p)
		}
	}
	switch {
	case code == exitInput && c.outcome != works:
		// Progress lines may come first; the error is the one last line.
		lines := strings.Split(line, "\n")
		if !strings.HasPrefix(lines[len(lines)-1], "embshrink: ") || strings.Count(line, "embshrink: ") != 1 {
			t.Errorf("stderr does not end in one error line: %q", stderr)
		}
		for _, w := range c.want {
			if !strings.Contains(stderr, w) {
				t.Errorf("stderr %q lacks %q", stderr, w)
			}
		}
		if afterOut := regularSnapshot(t, e.out); len(afterOut) != len(beforeOut) {
			t.Errorf("a refused command left files in the output folder: %v -> %v", beforeOut, afterOut)
		}
		t.Logf("refused: %s", line)
	case code == exitOK && c.outcome != refused:
		if args[0] == "compress" || args[0] == "rewrite" {
			checkLoads(t, e)
		}
		t.Logf("worked: %s", strings.SplitN(stdout, "\n", 2)[0])
	default:
		t.Errorf("exit %d (outcome %d wanted); stdout %q stderr %q", code, c.outcome, stdout, stderr)
	}
}

// editGraph rewrites the hostile model through fn.
func editGraph(fn func(g *onnxpb.GraphProto, mp *onnxpb.ModelProto)) func(t *testing.T, e *hostileEnv) {
	return func(t *testing.T, e *hostileEnv) {
		e.editModel(t, func(mp *onnxpb.ModelProto) { fn(mp.Graph, mp) })
	}
}

// shapedIDs declares the hostile model's ids [batch, 3], so that validate
// can generate them.
func shapedIDs(mp *onnxpb.ModelProto) {
	in := vinfo("ids", onnxpb.TensorProto_INT64, 0, 3)
	in.Type.GetTensorType().Shape.Dim[0].Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: "batch"}
	mp.Graph.Input[0] = in
}

// checkLoads requires the output to load and run in ONNX Runtime, and to
// validate against the input when the input itself does.
func checkLoads(t *testing.T, e *hostileEnv) {
	t.Helper()
	if code, _, stderr := runCLI("validate", e.model, e.model, "--samples", "4"); code == exitInput {
		// Nothing can be asked of the output then but a clean exit.
		t.Logf("the input itself does not run in ONNX Runtime: %s", stderr)
		return
	}
	if code, _, stderr := runCLI("validate", e.output, e.output, "--samples", "4"); code == exitInput {
		t.Errorf("the output does not load or run in ONNX Runtime: %s", stderr)
		return
	}
	if code, _, stderr := runCLI("validate", e.model, e.output, "--samples", "4"); code == exitInput {
		t.Errorf("validate input vs output: %s", stderr)
	}
}
