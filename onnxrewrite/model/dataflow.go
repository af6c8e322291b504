package model

import (
	"fmt"
	"os"
	"sort"
	"strconv"

	"github.com/embshrink/embshrink/onnxrewrite/onnxpb"
)

// ExternalFiles lists the files the model's external tensors are read from,
// in the order the tensors appear.
func (m *Model) ExternalFiles() []string {
	var files []string
	seen := map[string]bool{}
	m.EachTensor(func(t *onnxpb.TensorProto) {
		if loc, ok := m.ext[t]; ok && IsExternal(t) && !seen[loc.file] {
			seen[loc.file] = true
			files = append(files, loc.file)
		}
	})
	return files
}

// CheckDataflow checks that the model's graphs are wired: every value a
// node reads (its inputs, and the outer-scope values its subgraphs read) is
// a graph input, an initializer, another node's output or, in a subgraph, a
// value of an enclosing graph; no value is produced twice in a graph; no
// node depends on itself through other nodes; every graph output is
// defined. Nodes need not be listed in order. The error names the graph and
// the node. Load does not call it, so that inspect still reads odd models;
// a rewrite should.
func CheckDataflow(m *Model) error { return CheckProto(m.Path, m.Proto) }

// CheckProto is CheckDataflow for a model proto that was not loaded with
// Load, such as one just decoded from a written file; path names it in
// errors.
func CheckProto(path string, mp *onnxpb.ModelProto) error {
	if mp.GetGraph() == nil {
		return fmt.Errorf("%s: no graph", path)
	}
	_, err := checkDataflow(path, mp.Graph, "main", nil)
	return err
}

// dfScope is the names a graph and its enclosing graphs define.
type dfScope struct {
	names  map[string]bool
	parent *dfScope
}

func (s *dfScope) has(name string) bool {
	for ; s != nil; s = s.parent {
		if s.names[name] {
			return true
		}
	}
	return false
}

// dfGraph is one graph under check, with what it defines.
type dfGraph struct {
	file, path string
	g          *onnxpb.GraphProto
	local      map[string]bool // inputs and initializers
	producer   map[string]int  // value -> the node that writes it
}

func (d *dfGraph) label(i int) string {
	n := d.g.Node[i]
	return fmt.Sprintf("node %q (%s)", NodeLabel(n, i), n.OpType)
}

func (d *dfGraph) fail(format string, args ...any) error {
	return fmt.Errorf("%s: graph %s: %s", d.file, d.path, fmt.Sprintf(format, args...))
}

// checkDataflow checks one graph and returns the names it reads from its
// enclosing graphs.
func checkDataflow(file string, g *onnxpb.GraphProto, path string, outer *dfScope) (map[string]bool, error) {
	d := &dfGraph{file: file, path: path, g: g, local: map[string]bool{}, producer: map[string]int{}}
	if err := d.collectDefs(); err != nil {
		return nil, err
	}
	here := &dfScope{names: map[string]bool{}, parent: outer}
	for n := range d.local {
		here.names[n] = true
	}
	for n := range d.producer {
		here.names[n] = true
	}
	deps, free, err := d.nodeDeps(here, outer)
	if err != nil {
		return nil, err
	}
	for _, o := range g.Output {
		if !d.local[o.Name] && !producerIs(d.producer, o.Name) {
			if !outer.has(o.Name) {
				return nil, d.fail("output %q is not defined by any node, input or initializer", o.Name)
			}
			free[o.Name] = true
		}
	}
	if i, ok := onCycle(deps); ok {
		return nil, d.fail("%s is on a cycle: it depends on its own output", d.label(i))
	}
	return free, nil
}

// collectDefs records the graph's inputs, initializers and node outputs,
// refusing a value written twice.
func (d *dfGraph) collectDefs() error {
	for _, in := range d.g.Input {
		d.local[in.Name] = true
	}
	for _, t := range d.g.Initializer {
		d.local[t.Name] = true
	}
	for _, s := range d.g.SparseInitializer {
		if s.Values != nil {
			d.local[s.Values.Name] = true
		}
	}
	for i, n := range d.g.Node {
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if j, ok := d.producer[o]; ok {
				return d.fail("%s writes %q, which %s writes too", d.label(i), o, d.label(j))
			}
			if d.local[o] {
				return d.fail("%s writes %q, which is a graph input or initializer", d.label(i), o)
			}
			d.producer[o] = i
		}
	}
	return nil
}

// nodeDeps lists, per node, the nodes it reads from (its subgraphs' reads
// included), and the names the graph reads from enclosing graphs.
func (d *dfGraph) nodeDeps(here, outer *dfScope) ([][]int, map[string]bool, error) {
	free := map[string]bool{}
	deps := make([][]int, len(d.g.Node))
	for i, n := range d.g.Node {
		reads := append([]string(nil), n.Input...)
		for _, a := range n.Attribute {
			subs := AttrGraphs(a)
			for j, sg := range subs {
				p := d.path + "/" + NodeLabel(n, i) + "." + a.Name
				if len(subs) > 1 {
					p += "[" + strconv.Itoa(j) + "]"
				}
				subFree, err := checkDataflow(d.file, sg, p, here)
				if err != nil {
					return nil, nil, err
				}
				reads = append(reads, sortedNames(subFree)...)
			}
		}
		for _, in := range reads {
			switch {
			case in == "" || d.local[in]:
			case producerIs(d.producer, in):
				deps[i] = append(deps[i], d.producer[in])
			case outer.has(in):
				free[in] = true
			default:
				return nil, nil, d.fail("%s reads %q, which nothing defines", d.label(i), in)
			}
		}
	}
	return deps, free, nil
}

// onCycle orders the nodes by Kahn's algorithm; when some cannot be
// ordered (they are on a cycle or downstream of one), it walks back from a
// blocked node through blocked producers until a node repeats, and returns
// that node, which is on a cycle.
func onCycle(deps [][]int) (int, bool) {
	users := make([][]int, len(deps))
	waiting := make([]int, len(deps))
	for i, ds := range deps {
		waiting[i] = len(ds)
		for _, d := range ds {
			users[d] = append(users[d], i)
		}
	}
	var ready []int
	for i, w := range waiting {
		if w == 0 {
			ready = append(ready, i)
		}
	}
	done := 0
	for len(ready) > 0 {
		i := ready[len(ready)-1]
		ready = ready[:len(ready)-1]
		done++
		for _, u := range users[i] {
			if waiting[u]--; waiting[u] == 0 {
				ready = append(ready, u)
			}
		}
	}
	if done == len(deps) {
		return 0, false
	}
	i := 0
	for waiting[i] == 0 {
		i++
	}
	seen := map[int]bool{}
	for !seen[i] {
		seen[i] = true
		for _, d := range deps[i] {
			if waiting[d] > 0 {
				i = d
				break
			}
		}
	}
	return i, true
}

func producerIs(producer map[string]int, name string) bool {
	_, ok := producer[name]
	return ok
}

func sortedNames(m map[string]bool) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// FilesBytes is the size of a model file plus the external data files it
// reads: what the model takes on disk.
func FilesBytes(path string) (int64, error) {
	m, err := Load(path)
	if err != nil {
		return 0, err
	}
	var n int64
	for _, p := range append([]string{path}, m.ExternalFiles()...) {
		st, err := os.Stat(p)
		if err != nil {
			return 0, err
		}
		n += st.Size()
	}
	return n, nil
}
