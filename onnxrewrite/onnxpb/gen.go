// Package onnxpb holds the Go types of the ONNX model format, generated from
// onnx.proto in this folder. Regenerate with scripts/genproto.sh.
package onnxpb

//go:generate bash ../../scripts/genproto.sh
