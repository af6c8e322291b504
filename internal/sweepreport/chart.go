package sweepreport

import (
	"fmt"
	"math"
	"sort"
)

// Chart geometry in SVG pixels. The legend sits right of the plot area, so
// it never covers a point.
const (
	svgW      = 1160
	svgH      = 620
	plotLeft  = 90.0
	plotRight = 860.0
	plotTop   = 40.0
	plotBot   = 550.0
	legendX   = 890.0
	legendY   = 50.0
	markerR   = 5.5
	minTickPx = 70.0 // least distance between two labelled x ticks
)

// palette colours the code curves, one per K (colour-blind friendly).
var palette = []string{"#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000"}

// referenceColour is the fill of reference markers.
const referenceColour = "#6b6b6b"

func f1(v float64) string { return fmt.Sprintf("%.1f", v) }

// axes maps data to pixels.
type axes struct {
	xLo, xHi float64 // bytes
	yLo, yHi float64 // fidelity
}

func (a axes) x(bytes float64) float64 {
	l0, l1 := math.Log10(a.xLo), math.Log10(a.xHi)
	return plotLeft + (math.Log10(bytes)-l0)/(l1-l0)*(plotRight-plotLeft)
}

func (a axes) y(f float64) float64 {
	return plotBot - (f-a.yLo)/(a.yHi-a.yLo)*(plotBot-plotTop)
}

// drawable reports whether a point gets a marker: a finite fidelity and a
// positive size.
func drawable(p Point) bool { return finite(p.Fidelity) && p.Bytes > 0 }

// newAxes fits both axes to the drawable points, the gate and the
// original size.
func newAxes(r Report) (axes, []tick, []tick) {
	var sizes, fids []float64
	for _, p := range r.Points {
		if drawable(p) {
			sizes = append(sizes, float64(p.Bytes))
			fids = append(fids, p.Fidelity)
		}
	}
	if r.OriginalBytes > 0 && len(sizes) > 0 {
		sizes = append(sizes, float64(r.OriginalBytes))
	}
	if finite(r.Gate) {
		fids = append(fids, r.Gate)
	}
	var a axes
	a.xLo, a.xHi = xRange(sizes)
	var yt []tick
	a.yLo, a.yHi, yt = yRange(fids)
	xt := logTicks(a.xLo, a.xHi, int((plotRight-plotLeft)/minTickPx))
	return a, xt, yt
}

// svgTick is a tick placed on its axis.
type svgTick struct {
	Pos   string
	Label string
	Major bool // labelled ticks get a darker grid line
}

// placeXTicks positions x ticks, dropping labels that would crowd the one
// before them (the tick and its grid line stay).
func placeXTicks(a axes, ts []tick) []svgTick {
	out := make([]svgTick, 0, len(ts))
	last := math.Inf(-1)
	for _, t := range ts {
		px := a.x(t.Value)
		st := svgTick{Pos: f1(px)}
		if px-last >= minTickPx {
			st.Label, st.Major, last = t.Label, true, px
		}
		out = append(out, st)
	}
	return out
}

func placeYTicks(a axes, ts []tick) []svgTick {
	out := make([]svgTick, 0, len(ts))
	for _, t := range ts {
		out = append(out, svgTick{Pos: f1(a.y(t.Value)), Label: t.Label, Major: true})
	}
	return out
}

// series is the curve of the code points of one K.
type series struct {
	K      int
	Colour string
	Points string // SVG polyline points, sorted by bytes
	Idx    []int
}

// codeSeries groups the drawable code points by K (ascending), each
// sorted by bytes.
func codeSeries(r Report, a axes) []series {
	byK := map[int][]int{}
	var ks []int
	for _, i := range byBytes(r.Points) {
		p := r.Points[i]
		if p.Kind != KindCodes || !drawable(p) {
			continue
		}
		if _, ok := byK[p.K]; !ok {
			ks = append(ks, p.K)
		}
		byK[p.K] = append(byK[p.K], i)
	}
	sort.Ints(ks)
	out := make([]series, 0, len(ks))
	for n, k := range ks {
		s := series{K: k, Colour: palette[n%len(palette)], Idx: byK[k]}
		for j, i := range s.Idx {
			if j > 0 {
				s.Points += " "
			}
			p := r.Points[i]
			s.Points += f1(a.x(float64(p.Bytes))) + "," + f1(a.y(p.Fidelity))
		}
		out = append(out, s)
	}
	return out
}

// paretoPath is the frontier as a staircase: from each frontier point
// right to the next one's size, then up to its fidelity.
func paretoPath(r Report, a axes) string {
	path := ""
	for n, i := range Pareto(r.Points) {
		p := r.Points[i]
		if p.Bytes <= 0 {
			continue
		}
		x, y := f1(a.x(float64(p.Bytes))), f1(a.y(p.Fidelity))
		if n == 0 || path == "" {
			path = "M" + x + "," + y
			continue
		}
		path += " H" + x + " V" + y
	}
	return path
}
