// Package validate runs an original and a rewritten model in ONNX Runtime on
// the same inputs (given, or generated from the model's input types with ids
// drawn in the range of the table they index) and says per output how far
// apart they are and whether that passes the gate (CompareModels). It also
// holds the independent check of written models through onnx-go
// (CheckGraph). It builds on model, the rewrite rules, inputs and ort; the
// CLI and compress sit above it.
package validate
