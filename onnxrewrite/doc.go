// Package onnxrewrite is everything in embshrink that knows ONNX: loading and
// saving models losslessly (external data included), finding embedding
// tables, rewriting Gather(table, ids) into a lookup of compositional codes
// built from standard operators, and running models in ONNX Runtime.
//
// One file per job: model.go loads and saves, tensor.go reads tensor bytes,
// tables.go finds tables, rewrite.go holds the rewrite rules, runtime.go runs
// models. Callers use plain Go types; the protobuf types live in onnxpb.
package onnxrewrite
