// Package layering holds no code, only a test that the packages keep their
// layers: arrows point down, the rewrite rules and model I/O stay pure Go,
// and exactly one package imports ONNX Runtime.
package layering
