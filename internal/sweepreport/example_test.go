package sweepreport_test

import (
	"math"
	"os"

	"github.com/embshrink/embshrink/internal/sweepreport"
)

func ExampleTable() {
	r := sweepreport.Report{
		Model: "tiny.onnx", OriginalBytes: 400_000, FidelityName: "agreement", Gate: 0.99,
		Points: []sweepreport.Point{
			{Label: "16x16", Kind: "codes", M: 16, K: 16, Bytes: 40_000, Ratio: 10, TableError: 0.05, Fidelity: 0.992, Pass: true},
			{Label: "8x16", Kind: "codes", M: 8, K: 16, Bytes: 25_000, Ratio: 16, TableError: 0.12, Fidelity: 0.95},
			{Label: "int8 per-row", Kind: "reference", Bytes: 110_000, Ratio: 3.6, TableError: math.NaN(), Fidelity: 0.999, Pass: true, LookupLatency: 1.02},
		},
		Recommended: 0,
		Command:     "embshrink compress -m 16 -k 16 -o tiny.16x16.onnx tiny.onnx",
	}
	if err := sweepreport.Table(os.Stdout, r); err != nil {
		panic(err)
	}
	// Output:
	// REC  LABEL         KIND       M   K   SIZE      RATIO  TABLE ERR  WEIGHTED  READOUT  AGREEMENT  GATE  PARETO  OUTPUTS  LOOKUP     DECODE  NOTE
	//      8x16          codes      8   16  25.0 KB   16.0x  1.20e-01   -         -        0.9500     FAIL  yes     -        -          -       -
	// *    16x16         codes      16  16  40.0 KB   10.0x  5.00e-02   -         -        0.9920     PASS  yes     -        -          -       -
	//      int8 per-row  reference  -   -   110.0 KB  3.6x   n/a        -         -        0.9990     PASS  yes     -        1.02x / -  -       -
	// recommended: 16x16 (40.0 KB, 10.0x, agreement 0.9920)
	//   embshrink compress -m 16 -k 16 -o tiny.16x16.onnx tiny.onnx
}
