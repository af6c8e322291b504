package sweepreport

import "unicode/utf8"

// rect is an axis-aligned box in SVG pixels (y grows downwards).
type rect struct{ X0, Y0, X1, Y1 float64 }

// overlaps reports whether a and b share interior area (touching edges do
// not count).
func (a rect) overlaps(b rect) bool {
	return a.X0 < b.X1 && b.X0 < a.X1 && a.Y0 < b.Y1 && b.Y0 < a.Y1
}

// inside reports whether a lies within b.
func (a rect) inside(b rect) bool {
	return a.X0 >= b.X0 && a.X1 <= b.X1 && a.Y0 >= b.Y0 && a.Y1 <= b.Y1
}

// Label metrics, for the report's 12px sans-serif labels. The width per
// character is generous so that estimated boxes hold the rendered text.
const (
	labelCharW  = 7.0
	labelH      = 14.0
	labelPad    = 2.0 // room around a label's text inside its box
	markerClear = 8.0 // distance from a marker's centre to its label
)

// labelWidth estimates the width of text as a label box.
func labelWidth(text string) float64 {
	return float64(utf8.RuneCountInString(text))*labelCharW + 2*labelPad
}

// labelReq asks for a label of size W x H near the anchor (AX, AY).
type labelReq struct {
	AX, AY, W, H float64
}

// labelPos is where a label went: its box, and whether it was placed at
// all (a label with no free spot is left out rather than drawn over
// another), and whether it was moved away from its anchor far enough to
// need a leader line.
type labelPos struct {
	Box    rect
	Placed bool
	Far    bool
}

// candidates lists the boxes tried for a label, best first: above, below,
// right and left of the anchor, then ever further nudges up and down
// (straight, then to the right and to the left of the anchor), in steps of
// half a label height.
func candidates(q labelReq, nudges int) []rect {
	above := rect{q.AX - q.W/2, q.AY - markerClear - q.H, q.AX + q.W/2, q.AY - markerClear}
	below := rect{q.AX - q.W/2, q.AY + markerClear, q.AX + q.W/2, q.AY + markerClear + q.H}
	right := rect{q.AX + markerClear, q.AY - q.H/2, q.AX + markerClear + q.W, q.AY + q.H/2}
	left := rect{q.AX - markerClear - q.W, q.AY - q.H/2, q.AX - markerClear, q.AY + q.H/2}
	out := []rect{above, below, right, left}
	shift := func(r rect, dy float64) rect { return rect{r.X0, r.Y0 + dy, r.X1, r.Y1 + dy} }
	for k := 1; k <= nudges; k++ {
		d := float64(k) * q.H / 2
		out = append(out, shift(above, -d), shift(below, d),
			shift(right, -d), shift(right, d), shift(left, -d), shift(left, d))
	}
	return out
}

// placeLabels places one label per request, greedily in the given order
// (so earlier requests get the better spots): each takes the first
// candidate box that lies within bounds and overlaps no obstacle and no
// label placed before it. No two placed boxes overlap.
func placeLabels(reqs []labelReq, obstacles []rect, bounds rect) []labelPos {
	out := make([]labelPos, len(reqs))
	var placed []rect
	for i, q := range reqs {
		nudges := int((bounds.Y1-bounds.Y0)/(q.H/2)) + 1
		for c, box := range candidates(q, nudges) {
			if !box.inside(bounds) || hitsAny(box, obstacles) || hitsAny(box, placed) {
				continue
			}
			out[i] = labelPos{Box: box, Placed: true, Far: c >= 4+6}
			placed = append(placed, box)
			break
		}
	}
	return out
}

func hitsAny(r rect, others []rect) bool {
	for _, o := range others {
		if r.overlaps(o) {
			return true
		}
	}
	return false
}
