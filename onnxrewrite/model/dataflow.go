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

// checkDataflow checks one graph and returns the names it reads from its
// enclosing graphs.
func checkDataflow(file string, g *onnxpb.GraphProto, path string, outer *dfScope) (map[string]bool, error) {
	local := map[string]bool{}
	for _, in := range g.Input {
		local[in.Name] = true
	}
	for _, t := range g.Initializer {
		local[t.Name] = true
	}
	for _, s := range g.SparseInitializer {
		if s.Values != nil {
			local[s.Values.Name] = true
		}
	}
	label := func(i int) string {
		n := g.Node[i]
		return fmt.Sprintf("node %q (%s)", NodeLabel(n, i), n.OpType)
	}
	producer := map[string]int{}
	for i, n := range g.Node {
		for _, o := range n.Output {
			if o == "" {
				continue
			}
			if j, ok := producer[o]; ok {
				return nil, fmt.Errorf("%s: graph %s: %s writes %q, which %s writes too", file, path, label(i), o, label(j))
			}
			if local[o] {
				return nil, fmt.Errorf("%s: graph %s: %s writes %q, which is a graph input or initializer", file, path, label(i), o)
			}
			producer[o] = i
		}
	}
	here := &dfScope{names: map[string]bool{}, parent: outer}
	for n := range local {
		here.names[n] = true
	}
	for n := range producer {
		here.names[n] = true
	}
	free := map[string]bool{}
	deps := make([][]int, len(g.Node)) // deps[i]: the nodes node i reads from
	for i, n := range g.Node {
		reads := append([]string(nil), n.Input...)
		for _, a := range n.Attribute {
			subs := AttrGraphs(a)
			for j, sg := range subs {
				p := path + "/" + NodeLabel(n, i) + "." + a.Name
				if len(subs) > 1 {
					p += "[" + strconv.Itoa(j) + "]"
				}
				subFree, err := checkDataflow(file, sg, p, here)
				if err != nil {
					return nil, err
				}
				for _, name := range sortedNames(subFree) {
					reads = append(reads, name)
				}
			}
		}
		for _, in := range reads {
			switch {
			case in == "" || local[in]:
			case producerIs(producer, in):
				deps[i] = append(deps[i], producer[in])
			case outer.has(in):
				free[in] = true
			default:
				return nil, fmt.Errorf("%s: graph %s: %s reads %q, which nothing defines", file, path, label(i), in)
			}
		}
	}
	for _, o := range g.Output {
		if !local[o.Name] && !producerIs(producer, o.Name) {
			if !outer.has(o.Name) {
				return nil, fmt.Errorf("%s: graph %s: output %q is not defined by any node, input or initializer", file, path, o.Name)
			}
			free[o.Name] = true
		}
	}
	// Kahn's algorithm: whatever cannot be ordered is on a cycle or
	// downstream of one.
	users := make([][]int, len(g.Node))
	waiting := make([]int, len(g.Node))
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
	if done < len(g.Node) {
		// Walk back from a blocked node through blocked producers until a
		// node repeats: that node is on a cycle.
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
		return nil, fmt.Errorf("%s: graph %s: %s is on a cycle: it depends on its own output", file, path, label(i))
	}
	return free, nil
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
