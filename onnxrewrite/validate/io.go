package validate

import (
	"fmt"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// ioString prints an input or output: ids int64 [batch, 20].
func ioString(in ort.IOInfo) string {
	return fmt.Sprintf("%s %s %s", in.Name, model.DTypeName(in.Elem), model.DimsString(in.Shape, in.DimParams))
}

func ioStrings(v []ort.IOInfo) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = ioString(x)
	}
	return strings.Join(s, ", ")
}

// sameIO checks that two models have the same inputs (or outputs) by name
// and element type, and no clashing static sizes.
func sameIO(pathA, pathB, what string, a, b []ort.IOInfo) error {
	byName := map[string]ort.IOInfo{}
	for _, x := range b {
		byName[x.Name] = x
	}
	differ := func(detail string) error {
		return fmt.Errorf("%s and %s have different %s (%s): %s has %s; %s has %s",
			pathA, pathB, what, detail, pathA, ioStrings(a), pathB, ioStrings(b))
	}
	if len(a) != len(b) {
		return differ(fmt.Sprintf("%d vs %d", len(a), len(b)))
	}
	for _, x := range a {
		y, ok := byName[x.Name]
		if !ok {
			return differ(fmt.Sprintf("%q is missing from the rewrite", x.Name))
		}
		if x.Elem != y.Elem {
			return differ(fmt.Sprintf("%q is %s vs %s", x.Name, model.DTypeName(x.Elem), model.DTypeName(y.Elem)))
		}
		if len(x.Shape) != len(y.Shape) {
			return differ(fmt.Sprintf("%q has rank %d vs %d", x.Name, len(x.Shape), len(y.Shape)))
		}
		for i := range x.Shape {
			if x.Shape[i] >= 0 && y.Shape[i] >= 0 && x.Shape[i] != y.Shape[i] {
				return differ(fmt.Sprintf("%q dimension %d is %d vs %d", x.Name, i, x.Shape[i], y.Shape[i]))
			}
		}
	}
	return nil
}
