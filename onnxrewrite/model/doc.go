// Package model loads and saves ONNX models losslessly: external data is
// resolved at load (and confined to the model's folder) but read only when
// needed, and Save writes to temporary files that are synced and renamed,
// so a failure never leaves half a model. It also holds what every other
// package needs to read a model: tensor bytes and element types (16-bit
// floats through internal/half), graph walking over subgraphs, the
// dataflow check, the graph inputs, fresh names, and the few edits a
// rewrite makes to tensors (SetFloat32s, AddTensor, Derive).
//
// It is the bottom layer: pure Go, importing only the generated protobuf
// types (onnxpb) and internal/half; it must not import the rewrite rules,
// ONNX Runtime, onnx-go or the learner.
package model
