// Package calibrate answers which rows of a table a model really reads on
// given inputs, by running the part of the model that computes each
// embedding Gather's ids in ONNX Runtime. Compress turns the counts into row
// weights. It builds on the rewrite rules (onnxrewrite: tables, IDSites,
// ExposeIDs) and the runtime (ort); nothing below it imports it.
package calibrate

import (
	"cmp"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite"
	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// RowCounts runs the model on calibration inputs and counts, per table, how
// often each row is read by its embedding Gathers. Tables names the tables
// to count (every table when empty); the result maps each to a slice of
// one count per row.
//
// The counts are what the model computes: a temporary copy of the model has
// each Gather's indices, cast to int64, as its only outputs, and runs in ONNX
// Runtime, so ids that pass through offsets, Reshapes or Casts are counted
// after them. A negative id counts for row id+V, as Gather reads it. Every
// Gather counts on its own: two Gathers of the same ids count them twice.
//
// A Gather inside a subgraph (an If branch, a Loop body) is counted when its
// ids are a value of the main graph, once per run of the main graph: as if
// the branch were taken, and the body run once. Where both branches of an
// If read a table (a merged decoder's no-past and with-past graphs), only
// the else branch's Gathers of it count: one branch runs, so counting both would
// count each id twice. A Gather whose ids are
// computed inside the subgraph cannot be counted: an error naming it when
// tables names its table or no other table can be counted, else that table
// is left out of the counts (a merged decoder's position table, whose
// positions each branch computes).
//
// Inputs must hold every model input the ids depend on; others are ignored
// when the model does not need them for the ids.
func RowCounts(rt *ort.Runtime, m *model.Model, tables []string, inputs map[string]ort.HostTensor) (map[string][]int64, error) {
	inv, err := onnxrewrite.FindTables(m)
	if err != nil {
		return nil, err
	}
	if len(tables) == 0 && len(inv.Tables) == 0 {
		return nil, fmt.Errorf("%s: no embedding table: %w", m.Path, onnxrewrite.ErrNotFound)
	}
	sites, err := onnxrewrite.IDSites(m, inv, tables)
	if err != nil {
		return nil, err
	}
	sites, uncounted, err := countable(oneBranch(sites), tables)
	if err != nil {
		return nil, err
	}
	declared := map[string]bool{}
	for _, in := range model.Inputs(m) {
		declared[in.Name] = true
	}
	for name := range inputs {
		if !declared[name] {
			return nil, fmt.Errorf("%s: the model has no input %q", m.Path, name)
		}
	}
	parts, err := oneByOne(m, inputs)
	if err != nil {
		return nil, err
	}
	res, outs, err := runIDs(rt, m, sites, parts)
	if err != nil {
		return nil, err
	}
	counts := map[string][]int64{}
	for _, tb := range inv.Tables {
		if (len(tables) == 0 && !uncounted[tb.Name]) || slices.Contains(tables, tb.Name) {
			counts[tb.Name] = make([]int64, tb.Shape[0])
		}
	}
	for _, r := range res {
		for i, s := range sites {
			if err := countIDs(m, s, r[outs[i]], counts[s.Table]); err != nil {
				return nil, err
			}
		}
	}
	return counts, nil
}

// oneByOne splits inputs into their samples where the model's batch is
// fixed at 1 and they hold more (roles.SplitRows), to run one at a time;
// otherwise it returns them whole.
func oneByOne(m *model.Model, inputs map[string]ort.HostTensor) ([]map[string]ort.HostTensor, error) {
	r, err := roles.Detect(m)
	if err != nil {
		return nil, err
	}
	n, major, err := r.SplitRows(inputs)
	if err != nil || n == 1 {
		return []map[string]ort.HostTensor{inputs}, err
	}
	parts := make([]map[string]ort.HostTensor, n)
	for i := range parts {
		parts[i] = maps.Clone(inputs)
		for _, name := range major {
			parts[i][name] = model.SliceRows(inputs[name], int64(i), int64(i)+1)
		}
	}
	return parts, nil
}

// runIDs runs the part of m that computes the sites' ids on each part of
// the inputs and returns its outputs, named by outs in site order. Only
// the ids are computed, so only what they depend on is written: not the
// tables, which for a large model would be a copy of its data.
func runIDs(rt *ort.Runtime, m *model.Model, sites []onnxrewrite.IDSite, parts []map[string]ort.HostTensor) ([]map[string]ort.HostTensor, []string, error) {
	dir, err := os.MkdirTemp("", "embshrink-rowcounts-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)
	pruned, outs := onnxrewrite.ExposeIDs(m, sites)
	path := filepath.Join(dir, "model.onnx")
	if err := pruned.Save(path, model.SaveOptions{}); err != nil {
		return nil, nil, fmt.Errorf("%s: temporary model for counting rows: %w", m.Path, err)
	}
	sess, err := rt.NewSession(path, ort.SessionOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: counting rows: %w", m.Path, err)
	}
	defer sess.Close()
	var res []map[string]ort.HostTensor
	for _, inputs := range parts {
		feed := map[string]ort.HostTensor{}
		for _, in := range sess.Inputs() {
			t, ok := inputs[in.Name]
			if !ok {
				return nil, nil, fmt.Errorf("%s: counting rows needs input %q, which the calibration inputs lack", m.Path, in.Name)
			}
			feed[in.Name] = t
		}
		out, err := sess.Run(feed)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: counting rows: %w", m.Path, err)
		}
		res = append(res, out)
	}
	return res, outs, nil
}

// countIDs adds the ids one Gather read (t) to its table's counts c.
func countIDs(m *model.Model, s onnxrewrite.IDSite, t ort.HostTensor, c []int64) error {
	ids, ok := t.Data.([]int64)
	if !ok {
		return fmt.Errorf("%s: counting rows: no ids came back for Gather %s (got %T)", m.Path, s.Ref.Node, t.Data)
	}
	for _, id := range ids {
		r := id
		if r < 0 {
			r += s.Rows
		}
		if r < 0 || r >= s.Rows {
			return fmt.Errorf("%s: table %q: Gather %s reads id %d, outside [-%d, %d)", m.Path, s.Table, s.Ref.Node, id, s.Rows, s.Rows)
		}
		c[r]++
	}
	return nil
}

// oneBranch drops the Gathers of a table in an If's then branch when its
// else branch Gathers that table too, so that the ids of one run count once.
func oneBranch(sites []onnxrewrite.IDSite) []onnxrewrite.IDSite {
	branch := func(s onnxrewrite.IDSite) (ifPath, which string) {
		parts := strings.Split(s.Ref.Graph, "/")
		for i, p := range parts {
			for _, b := range []string{".then_branch", ".else_branch"} {
				if strings.HasSuffix(p, b) {
					return strings.Join(append(slices.Clone(parts[:i]), strings.TrimSuffix(p, b)), "/"), b
				}
			}
		}
		return "", ""
	}
	hasElse := map[string]bool{}
	for _, s := range sites {
		if ifPath, which := branch(s); which == ".else_branch" {
			hasElse[ifPath+"\x00"+s.Table] = true
		}
	}
	var out []onnxrewrite.IDSite
	for _, s := range sites {
		if ifPath, which := branch(s); which == ".then_branch" && hasElse[ifPath+"\x00"+s.Table] {
			continue
		}
		out = append(out, s)
	}
	return out
}

// countable drops the sites whose ids cannot be counted, and every site of
// their tables, returning those tables; such a site is an error when its
// table is named in tables or when no table is left to count.
func countable(sites []onnxrewrite.IDSite, tables []string) ([]onnxrewrite.IDSite, map[string]bool, error) {
	uncounted := map[string]bool{}
	var first error
	for _, s := range sites {
		if s.Err != nil {
			if len(tables) > 0 {
				return nil, nil, s.Err
			}
			uncounted[s.Table] = true
			first = cmp.Or(first, s.Err)
		}
	}
	var out []onnxrewrite.IDSite
	for _, s := range sites {
		if !uncounted[s.Table] {
			out = append(out, s)
		}
	}
	if len(out) == 0 && first != nil {
		return nil, nil, first // nothing left to count: say why
	}
	return out, uncounted, nil
}
