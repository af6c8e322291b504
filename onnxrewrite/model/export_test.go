package model

import "github.com/embshrink/embshrink/onnxrewrite/onnxpb"

// ExtLoc is where Load found an external tensor's bytes, for tests.
type ExtLoc struct {
	File           string
	Offset, Length int64
}

// ExtLocation exposes what Load resolved for t, for tests.
func ExtLocation(m *Model, t *onnxpb.TensorProto) (ExtLoc, bool) {
	l, ok := m.ext[t]
	return ExtLoc{File: l.file, Offset: l.offset, Length: l.length}, ok
}
