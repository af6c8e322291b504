// Package sweepreport renders the results of an `embshrink sweep` run: a
// set of compressed variants of one model (compositional codes at several
// M and K, plus reference quantisations such as float16 or int8), each
// with its file size and a fidelity figure against the original model.
//
// It writes two things: a self-contained HTML report (WriteHTML) with an
// inline SVG size-fidelity chart and a table of every point, and a plain
// text table for a terminal (Table). Pareto picks the points on the
// size/fidelity frontier.
//
// The package works on plain numbers only. It must not import ONNX,
// ONNX Runtime or any other embshrink package: the sweep command measures,
// this package only draws. It uses the standard library alone, and its
// output is deterministic: the same Report gives the same bytes (the caller
// passes the date and version in Report.Generated; nothing here reads the
// clock).
//
// Sizes are shown in decimal units (1 KB = 1000 bytes, 1 MB = 1000 KB).
package sweepreport
