// Package validate runs an original and a rewritten model in ONNX Runtime on
// the same inputs (given, or generated from the model's input types with ids
// drawn in the range of the table they index) and says per output how far
// apart they are and whether that passes the gate (CompareModels). It also
// holds the checks of written models: the gate (CheckGraph, structural and
// held to the ONNX spec, and CheckLoads, ONNX Runtime) and onnx-go's
// independent reading (ReadOnnxGo), which reports and never refuses. It
// builds on model, the rewrite rules, inputs and ort; the
// CLI and compress sit above it.
package validate
