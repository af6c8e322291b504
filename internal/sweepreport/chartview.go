package sweepreport

import (
	"fmt"
	"math"
	"strconv"
)

// marker is the SVG element of one point.
type marker struct {
	Class        string // "point codes" or "point reference", plus "pass"/"fail"
	Label        string
	Title        string // tooltip
	Diamond      bool   // reference points are diamonds, code points circles
	CX, CY, R, D string
	Fill, Stroke string
}

// svgText is a positioned piece of text.
type svgText struct {
	X, Y, Class, Label, Text string
}

// svgLine is a straight line.
type svgLine struct {
	X1, Y1, X2, Y2, Class string
}

// legendItem is one legend row; Glyph picks its symbol in the template.
type legendItem struct {
	Glyph, Colour, Text string
	TX, Y               string // text position
	GX0, GXM, GX1       string // glyph left, middle, right
	GY, GY0, GY1        string // glyph middle, top, bottom
	D                   string // glyph path, for diamond and pareto
}

// chartView is everything the SVG template draws.
type chartView struct {
	W, H                       int
	PlotX, PlotY, PlotW, PlotH string
	PlotRight, PlotBot         string
	XTicks, YTicks             []svgTick
	XTitleX, XTitleY           string
	YTitleX, YTitleY           string
	YTitle                     string
	Gate                       *svgLine
	GateLabel                  *svgText
	Original                   *svgLine
	OriginalLabel              *svgText
	Pareto                     string
	Series                     []series
	Markers                    []marker
	Ring                       *marker
	Labels                     []svgText
	Leaders                    []svgLine
	Legend                     []legendItem
	Empty                      string
	LegendBoxY, LegendBoxH     string
	LegendX, LegendW           string
	XTickEnd, YTickStart       string
}

// fmtFid formats a fidelity for labels and tables.
func fmtFid(f float64) string {
	if !finite(f) {
		return "n/a"
	}
	return strconv.FormatFloat(f, 'f', 4, 64)
}

func newChart(r Report) chartView {
	a, xt, yt := newAxes(r)
	v := chartView{
		W: svgW, H: svgH,
		PlotX: f1(plotLeft), PlotY: f1(plotTop), PlotW: f1(plotRight - plotLeft), PlotH: f1(plotBot - plotTop),
		PlotRight: f1(plotRight), PlotBot: f1(plotBot),
		XTicks: placeXTicks(a, xt), YTicks: placeYTicks(a, yt),
		XTitleX: f1((plotLeft + plotRight) / 2), XTitleY: f1(plotBot + 48),
		YTitleX: f1(22), YTitleY: f1((plotTop + plotBot) / 2),
		YTitle:  r.FidelityName,
		LegendX: f1(legendX), LegendW: f1(svgW - legendX - 10),
		XTickEnd: f1(plotBot + 5), YTickStart: f1(plotLeft - 5),
	}
	if v.YTitle == "" {
		v.YTitle = "fidelity"
	}
	var obstacles []rect
	if finite(r.Gate) {
		y := a.y(r.Gate)
		v.Gate = &svgLine{X1: f1(plotLeft), Y1: f1(y), X2: f1(plotRight), Y2: f1(y), Class: "gate"}
		text := "gate " + strconv.FormatFloat(r.Gate, 'f', -1, 64)
		w := labelWidth(text)
		v.GateLabel = &svgText{X: f1(plotLeft + 6), Y: f1(y - 5), Class: "gate-label", Text: text}
		obstacles = append(obstacles, rect{plotLeft + 4, y - 5 - labelH + 3, plotLeft + 6 + w, y - 2})
	}
	drawn := 0
	for _, p := range r.Points {
		if drawable(p) {
			drawn++
		}
	}
	if r.OriginalBytes > 0 && drawn > 0 {
		x := a.x(float64(r.OriginalBytes))
		v.Original = &svgLine{X1: f1(x), Y1: f1(plotTop), X2: f1(x), Y2: f1(plotBot), Class: "original"}
		text := "original " + formatSize(r.OriginalBytes)
		v.OriginalLabel = &svgText{X: f1(x - 4), Y: f1(plotBot - 8), Class: "original-label", Text: text}
		obstacles = append(obstacles, rect{x - 4 - labelWidth(text), plotBot - 8 - labelH + 3, x, plotBot - 4})
	}
	if drawn == 0 {
		v.Empty = "no point with a known fidelity to draw"
	}
	v.Pareto = paretoPath(r, a)
	v.Series = codeSeries(r, a)
	v.Markers, v.Ring = markers(r, a, v.Series)
	v.Labels, v.Leaders = pointLabels(r, a, obstacles)
	v.Legend, v.LegendBoxY, v.LegendBoxH = legend(r, v.Series)
	return v
}

// markers draws every drawable point: code points as circles in their K's
// colour, reference points as grey diamonds; points that fail the gate are
// hollow. The recommended point also gets a ring.
func markers(r Report, a axes, ss []series) ([]marker, *marker) {
	colour := map[int]string{}
	for _, s := range ss {
		colour[s.K] = s.Colour
	}
	var out []marker
	var ring *marker
	for _, i := range byBytes(r.Points) {
		p := r.Points[i]
		if !drawable(p) {
			continue
		}
		x, y := a.x(float64(p.Bytes)), a.y(p.Fidelity)
		m := marker{Label: p.Label, CX: f1(x), CY: f1(y), R: f1(markerR), Stroke: referenceColour}
		m.Title = fmt.Sprintf("%s: %s, %s %s", p.Label, formatSize(p.Bytes), fmtFid(p.Fidelity), passText(p.Pass))
		if p.Kind == KindCodes {
			m.Class, m.Stroke = "point codes", colour[p.K]
		} else {
			d := markerR * 1.5
			m.Class, m.Diamond = "point reference", true
			m.D = fmt.Sprintf("M%s,%s L%s,%s L%s,%s L%s,%s Z", f1(x), f1(y-d), f1(x+d), f1(y), f1(x), f1(y+d), f1(x-d), f1(y))
		}
		m.Fill = m.Stroke
		if p.Pass {
			m.Class += " pass"
		} else {
			m.Class += " fail"
			m.Fill = "#ffffff"
		}
		out = append(out, m)
		if i == r.Recommended {
			ring = &marker{Class: "recommended", Label: p.Label, CX: f1(x), CY: f1(y), R: f1(markerR * 2.4)}
		}
	}
	return out, ring
}

func passText(pass bool) string {
	if pass {
		return "PASS"
	}
	return "FAIL"
}

// pointLabels places a label beside every drawable point (the recommended
// one first, then by size), avoiding markers, the given obstacles and each
// other; a label moved far from its point gets a leader line.
func pointLabels(r Report, a axes, obstacles []rect) ([]svgText, []svgLine) {
	order := byBytes(r.Points)
	if r.Recommended >= 0 {
		rest := []int{r.Recommended}
		for _, i := range order {
			if i != r.Recommended {
				rest = append(rest, i)
			}
		}
		order = rest
	}
	var reqs []labelReq
	var idx []int
	for _, i := range order {
		p := r.Points[i]
		if !drawable(p) {
			continue
		}
		x, y := a.x(float64(p.Bytes)), a.y(p.Fidelity)
		reqs = append(reqs, labelReq{AX: x, AY: y, W: labelWidth(labelText(r, i)), H: labelH})
		idx = append(idx, i)
		obstacles = append(obstacles, rect{x - markerR - 1, y - markerR - 1, x + markerR + 1, y + markerR + 1})
	}
	bounds := rect{plotLeft + 2, 2, plotRight - 2, plotBot - 2}
	pos := placeLabels(reqs, obstacles, bounds)
	var texts []svgText
	var leaders []svgLine
	for n, lp := range pos {
		if !lp.Placed {
			continue
		}
		i := idx[n]
		class := "label"
		if i == r.Recommended {
			class += " recommended"
		}
		b := lp.Box
		texts = append(texts, svgText{X: f1(b.X0 + labelPad), Y: f1(b.Y1 - 3.5), Class: class, Label: r.Points[i].Label, Text: labelText(r, i)})
		if lp.Far {
			q := reqs[n]
			cx, cy := math.Max(b.X0, math.Min(q.AX, b.X1)), math.Max(b.Y0, math.Min(q.AY, b.Y1))
			leaders = append(leaders, svgLine{X1: f1(q.AX), Y1: f1(q.AY), X2: f1(cx), Y2: f1(cy), Class: "leader"})
		}
	}
	return texts, leaders
}

// labelText is the chart label of point i.
func labelText(r Report, i int) string {
	if i == r.Recommended {
		return r.Points[i].Label + " (recommended)"
	}
	return r.Points[i].Label
}

// legend lists what the chart draws, top to bottom right of the plot.
func legend(r Report, ss []series) ([]legendItem, string, string) {
	var items []legendItem
	add := func(glyph, colour, text string) {
		y := legendY + 14 + float64(len(items))*24
		x0, xm, x1 := legendX+12, legendX+26, legendX+40
		it := legendItem{Glyph: glyph, Colour: colour, Text: text, TX: f1(x1 + 10), Y: f1(y + 4),
			GX0: f1(x0), GXM: f1(xm), GX1: f1(x1), GY: f1(y), GY0: f1(y - 8), GY1: f1(y + 8)}
		switch glyph {
		case "diamond":
			d := markerR * 1.5
			it.D = fmt.Sprintf("M%s,%s L%s,%s L%s,%s L%s,%s Z", f1(xm), f1(y-d), f1(xm+d), f1(y), f1(xm), f1(y+d), f1(xm-d), f1(y))
		case "pareto":
			it.D = fmt.Sprintf("M%s,%s H%s V%s H%s", f1(x0), f1(y+5), f1(xm), f1(y-5), f1(x1))
		}
		items = append(items, it)
	}
	for _, s := range ss {
		add("curve", s.Colour, fmt.Sprintf("codes, K = %d (label MxK)", s.K))
	}
	hasRef, hasFail := false, false
	for _, p := range r.Points {
		hasRef = hasRef || (p.Kind != KindCodes && drawable(p))
		hasFail = hasFail || (!p.Pass && drawable(p))
	}
	if hasRef {
		add("diamond", referenceColour, "reference quantisation")
	}
	if hasFail {
		add("hollow", referenceColour, "hollow: fails the gate")
	}
	if r.Recommended >= 0 && drawable(r.Points[r.Recommended]) {
		add("ring", "#111111", "recommended")
	}
	if len(Pareto(r.Points)) > 1 {
		add("pareto", "", "Pareto frontier")
	}
	if finite(r.Gate) {
		add("gate", "", "gate")
	}
	if r.OriginalBytes > 0 {
		add("original", "", "original size")
	}
	return items, f1(legendY - 8), f1(float64(len(items))*24 + 12)
}
