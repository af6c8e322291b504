// Package onnxrewrite holds embshrink's rewrite rules: it finds the
// embedding tables of a model (FindTables: rank-2 float initializers or
// Constants read by a Gather along axis 0, in subgraphs too, with their tied
// uses and the copies an exporter folded), the linear readout a table's rows
// reach (FindReadout), the ids its Gathers read (IDSites, ExposeIDs), and
// rewrites a table into compositional codes in standard ONNX operators
// (RewriteTable). It works on a model.Model in memory and is pure Go: it must
// not import ONNX Runtime (package ort), onnx-go, the learner or gorgonia;
// loading and saving are package model's, running is package ort's.
//
// # The rewrite rules
//
// How a table becomes codes and a codebook, in standard ONNX operators only,
// for any runtime.
//
// Storage. Codes are packed P to a byte when K allows (K <= 4: P = 4,
// K <= 16: P = 2, else P = 1 with uint8 for K <= 256 and uint16 above), so a
// row takes Q = ceil(M/P) bytes: byte j holds the codes of groups jP..jP+P-1,
// low bits first. The codebook [M*K, D] keeps the table's element type.
//
// Group book. From the codebook, nodes over initializers build a book of
// Q*256 vectors: entry j*256 + b is the sum of the P codebook rows that byte
// value b selects in byte j. A runtime computes it once, at load (ONNX
// Runtime folds it as a constant), so each token then gathers Q vectors, not
// M. With P = 1 the group book is the codebook itself.
//
//	book = Reshape(ReduceSum(Gather(codebook, Cast(nibbles) + group_rows), axis 2), [Q*256, D])
//
// Row sum. The same five operators rebuild rows from codes, per token
// (lookup) or for the whole table at load (decode):
//
//	rows = ReduceSum(Gather(book, Add(Cast(codes_of_rows, int64), byte_offsets)), axes=[-2])
//
// with byte_offsets[j] = j*256 (j*K when P = 1). 16-bit tables are summed
// in float32 and rounded once, as codes.Decode does: ONNX Runtime has no bfloat16
// ReduceSum, and M float16 additions lose bits.
//
// Layouts. lookup replaces each embedding Gather(table, ids) with the row
// sum over Gather(codes, ids): the dense table never exists at run time.
// Bags: where the Gather's one reader is a ReduceSum or ReduceMean over id
// axes only (opset >= 16, float32 or float64 table, M*K <= 4096), lookup
// replaces both with code counts per bag times the codebook, with
// ScatterElements(reduction=add) and one MatMul (bag.go): each token then
// costs M integer adds, not Q vectors of D values written and summed.
// decode computes the row sum over all codes once, under the table's own
// name, so every reader of the table (Gathers, a tied MatMul or Gemm) works
// unchanged at the original speed after load. Readers that are not
// embedding Gathers, and initializers that are copies of the table, are
// always fed from the decoded table, so the file carries the table once.
package onnxrewrite
