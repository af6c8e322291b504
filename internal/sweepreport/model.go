package sweepreport

import (
	"fmt"
	"math"
	"sort"
)

// Point kinds.
const (
	KindCodes     = "codes"
	KindReference = "reference"
)

// Point is one measured variant of the model.
type Point struct {
	Label         string          // e.g. "16x16", "int8 per-row", "float16", "int4 blocked"
	Kind          string          // KindCodes or KindReference
	M, K          int             // codebooks and codewords, for codes
	Bytes         int64           // model file bytes (graph + data)
	Ratio         float64         // original bytes / Bytes
	TableError    float64         // relative squared error of the table, all rows alike (NaN if unknown)
	WeightedError float64         // the same with calibration's row weights (NaN if none: no calibration)
	ReadoutError  float64         // the weighted error in the readout metric (NaN if none applies)
	Fidelity      float64         // the y-axis figure, e.g. decision agreement in [0,1] or cosine; NaN if unknown
	Pass          bool            // passes the validate gate
	Outputs       []OutputFigures // per model output
	LookupLatency float64         // latency ratio vs the original; 0 = not measured
	DecodeLatency float64         // latency ratio vs the original; 0 = not measured
	LookupRSS     int64           // peak RSS growth in bytes; 0 = not measured
	DecodeRSS     int64           // peak RSS growth in bytes; 0 = not measured
	Note          string
}

// OutputFigures compares one model output of a variant with the original's.
type OutputFigures struct {
	Name       string
	MaxAbsDiff float64
	Cosine     float64
	Agreement  float64 // NaN if the output is not classifier-like
	Pass       bool
}

// Report is everything a sweep report shows.
type Report struct {
	Model         string
	OriginalBytes int64
	Table         string // name of the compressed table
	TableShape    string // e.g. "[30000, 128] float32"
	FidelityName  string // y axis label, e.g. "decision agreement"
	Gate          float64
	GateText      string // human text of the gate
	MeasuredOn    string // what the points were measured on, e.g. "given --inputs"
	Points        []Point
	Recommended   int    // index into Points, -1 if none passes
	Command       string // the exact `embshrink compress ...` command of the recommendation
	Generated     string // free text, e.g. version and date
}

// check reports a Report that cannot be rendered.
func (r Report) check() error {
	if r.Recommended < -1 || r.Recommended >= len(r.Points) {
		return fmt.Errorf("sweepreport: Recommended = %d, want -1 or an index below %d", r.Recommended, len(r.Points))
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// Pareto returns the indexes of the points on the size/fidelity Pareto
// frontier: points with a finite fidelity that no other point dominates
// (another point dominates p when it is no larger and no less faithful, and
// strictly better in one of the two). Points with a NaN fidelity are never
// on it. Two identical points do not dominate each other, so both are kept.
// The indexes are sorted by bytes, then by fidelity (highest first), then
// by index.
func Pareto(points []Point) []int {
	var front []int
	for i, p := range points {
		if !finite(p.Fidelity) {
			continue
		}
		dominated := false
		for j, q := range points {
			if j == i || !finite(q.Fidelity) {
				continue
			}
			if q.Bytes <= p.Bytes && q.Fidelity >= p.Fidelity &&
				(q.Bytes < p.Bytes || q.Fidelity > p.Fidelity) {
				dominated = true
				break
			}
		}
		if !dominated {
			front = append(front, i)
		}
	}
	sort.SliceStable(front, func(a, b int) bool {
		pa, pb := points[front[a]], points[front[b]]
		if pa.Bytes != pb.Bytes {
			return pa.Bytes < pb.Bytes
		}
		if pa.Fidelity != pb.Fidelity {
			return pa.Fidelity > pb.Fidelity
		}
		return front[a] < front[b]
	})
	return front
}

// byBytes returns the indexes of points sorted by bytes, ties by index.
func byBytes(points []Point) []int {
	idx := make([]int, len(points))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return points[idx[a]].Bytes < points[idx[b]].Bytes })
	return idx
}
