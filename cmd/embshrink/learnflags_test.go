package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/embshrink/embshrink/internal/npy"
	"github.com/embshrink/embshrink/learner"
)

// TestLearnSearchFlags wants each of learn's search flags to reach the
// learner: with the other settings fixed, each changes the codebook's
// bytes (without noise the rounds stop early, as converged), and a
// non-finite --anneal is a usage error naming the flag.
func TestLearnSearchFlags(t *testing.T) {
	dir := t.TempDir()
	const V, D = 400, 8
	rng := rand.New(rand.NewPCG(1, 2))
	vals := make([]float32, V*D)
	for i := range vals {
		vals[i] = float32(rng.NormFloat64())
	}
	table := filepath.Join(dir, "table.npy")
	f, err := os.Create(table)
	if err != nil {
		t.Fatal(err)
	}
	if err := npy.Write(f, npy.FromFloat32([]int{V, D}, vals)); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	learn := func(name string, extra ...string) []byte {
		t.Helper()
		book := filepath.Join(dir, name+".book.npy")
		args := append([]string{"learn", table, "-M", "4", "-K", "8", "--iterations", "3",
			"--codes", filepath.Join(dir, name+".codes.npy"), "--codebook", book}, extra...)
		code, out, errOut := runCLI(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s", extra, code, errOut)
		}
		if name == "base" && !strings.Contains(out, "completed 3 rounds") {
			t.Fatalf("output does not say it completed 3 rounds:\n%s", out)
		}
		b, err := os.ReadFile(book)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	base := learn("base")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"restarts", []string{"--restarts", "-1"}},
		{"perturb", []string{"--perturb", "1", "--restarts", "6"}},
		{"anneal", []string{"--anneal", "-1"}},
	} {
		if got := learn(tc.name, tc.args...); bytes.Equal(got, base) {
			t.Errorf("%v learned the same codebook as the defaults: the flag did not reach the learner", tc.args)
		}
	}
	code, _, errOut := runCLI("learn", table, "-M", "4", "-K", "8", "--anneal", "NaN",
		"--codes", filepath.Join(dir, "n.codes.npy"), "--codebook", filepath.Join(dir, "n.book.npy"))
	if code != 2 || !strings.Contains(errOut, "anneal") {
		t.Errorf("--anneal NaN: exit %d, %q; want exit 2 naming --anneal", code, errOut)
	}
}

// TestCompressSearchFlags wants compress's search flags to reach the
// learner too: each changes the learned table's error.
func TestCompressSearchFlags(t *testing.T) {
	valNeedRuntime(t)
	ex := filepath.Join("..", "..", "fixtures", "testdata", "example", "textclf.onnx")
	dir := t.TempDir()
	compressWith := func(name string, extra ...string) float64 {
		t.Helper()
		out := filepath.Join(dir, name+".onnx")
		args := append([]string{"compress", ex, "-o", out, "-M", "4", "-K", "16", "--json"}, extra...)
		code, stdout, errOut := runCLI(args...)
		if code != exitOK {
			t.Fatalf("%v: exit %d: %s", extra, code, errOut)
		}
		var rep compressJSON
		if err := json.Unmarshal([]byte(stdout), &rep); err != nil || len(rep.Tables) != 1 {
			t.Fatalf("%v: report %q: %v", extra, stdout, err)
		}
		return rep.Tables[0].RelSqErr
	}
	base := compressWith("base", "--iterations", "3")
	for _, tc := range [][]string{
		{"--iterations", "3", "--restarts", "-1"},
		{"--iterations", "3", "--perturb", "1"},
		{"--iterations", "3", "--anneal", "-1"},
		{"--iterations", "4"},
	} {
		if got := compressWith(tc[len(tc)-2][2:], tc...); got == base {
			t.Errorf("compress %v: error %g, the same as without it: the flag did not reach the learner", tc, got)
		}
	}
}

// TestProgressFollowsReplannedRounds checks that the terminal's bar takes
// the rounds a time limit re-plans after each round, and the plain lines
// the last plan.
func TestProgressFollowsReplannedRounds(t *testing.T) {
	var w strings.Builder
	p := &learnProgress{w: &w, cmd: "learn", tty: true, start: time.Now()}
	for _, ev := range []learner.Progress{{Phase: "refine", Step: 1, Total: 58}, {Phase: "refine", Step: 2, Total: 56}, {Phase: "refine", Step: 3, Total: 57}} {
		p.update(ev)
		if got := p.bar.GetMax(); got != ev.Total {
			t.Errorf("after step %d of %d: the bar's end is %d", ev.Step, ev.Total, got)
		}
	}
	p.done()
	if want := "done at step 3/57"; !strings.Contains(w.String(), want) {
		t.Errorf("progress %q lacks %q", w.String(), want)
	}
}
