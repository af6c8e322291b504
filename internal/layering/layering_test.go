package layering

import (
	"encoding/json"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/embshrink/embshrink/"

// pkgInfo is the part of `go list -json` the test reads.
type pkgInfo struct {
	ImportPath string
	Imports    []string
	Deps       []string
}

func listPackages(t *testing.T) map[string]pkgInfo {
	t.Helper()
	out, err := exec.Command("go", "list", "-json", mod+"...").Output()
	if err != nil {
		t.Skipf("go list is not available here: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	pkgs := map[string]pkgInfo{}
	for dec.More() {
		var p pkgInfo
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		pkgs[strings.TrimPrefix(p.ImportPath, mod)] = p
	}
	return pkgs
}

// TestOneRuntimePackage: only onnxrewrite/ort imports onnxruntime_go.
func TestOneRuntimePackage(t *testing.T) {
	var importers []string
	for name, p := range listPackages(t) {
		if slices.Contains(p.Imports, "github.com/yalue/onnxruntime_go") {
			importers = append(importers, name)
		}
	}
	if len(importers) != 1 || importers[0] != "onnxrewrite/ort" {
		t.Errorf("packages importing onnxruntime_go: %q, want only onnxrewrite/ort", importers)
	}
}

// TestLayers checks what each layer must not depend on, directly or not.
func TestLayers(t *testing.T) {
	pkgs := listPackages(t)
	forbidden := []struct {
		pkg  string
		deps []string
	}{
		{"onnxrewrite/model", []string{"github.com/yalue/onnxruntime_go", "github.com/owulveryck/onnx-go", "gorgonia.org/gorgonia", mod + "onnxrewrite", mod + "learner"}},
		{"onnxrewrite", []string{"github.com/yalue/onnxruntime_go", "github.com/owulveryck/onnx-go", "gorgonia.org/gorgonia", "gorgonia.org/tensor", mod + "learner", mod + "onnxrewrite/ort"}},
		{"learner", []string{mod + "onnxrewrite/onnxpb", mod + "onnxrewrite/model", mod + "onnxrewrite"}},
		{"learner/codes", []string{mod + "learner", mod + "onnxrewrite/onnxpb", "gorgonia.org/gorgonia"}},
		{"onnxrewrite/ort", []string{mod + "onnxrewrite", mod + "learner"}},
		{"internal/npy", []string{mod + "onnxrewrite/onnxpb"}},
		// Input roles and files are pure Go: they run nothing.
		{"onnxrewrite/roles", []string{"github.com/yalue/onnxruntime_go", mod + "onnxrewrite/ort"}},
		{"onnxrewrite/inputs", []string{"github.com/yalue/onnxruntime_go", mod + "onnxrewrite/ort"}},
	}
	for _, f := range forbidden {
		p, ok := pkgs[f.pkg]
		if !ok {
			t.Errorf("package %s not found", f.pkg)
			continue
		}
		for _, d := range f.deps {
			if slices.Contains(p.Deps, d) {
				t.Errorf("%s depends on %s", f.pkg, d)
			}
		}
	}
}
