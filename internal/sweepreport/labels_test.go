package sweepreport

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
)

func TestPlaceLabelsNoOverlap(t *testing.T) {
	bounds := rect{0, 0, 800, 500}
	tests := []struct {
		name      string
		reqs      []labelReq
		minPlaced int
	}{
		{"same spot", repeatReq(30, func(i int) (float64, float64) { return 400, 250 }), 30},
		{"tight row", repeatReq(40, func(i int) (float64, float64) { return 300 + float64(i)*3, 250 }), 40},
		{"diagonal", repeatReq(25, func(i int) (float64, float64) { return 100 + float64(i)*8, 400 - float64(i)*6 }), 25},
		{"corner", repeatReq(20, func(i int) (float64, float64) { return 795, 5 }), 15},
		{"more than fit", repeatReq(400, func(i int) (float64, float64) { return 400, 250 }), 30},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			obstacles := []rect{{390, 240, 410, 260}}
			pos := placeLabels(tc.reqs, obstacles, bounds)
			placed := 0
			for i, a := range pos {
				if !a.Placed {
					continue
				}
				placed++
				if !a.Box.inside(bounds) {
					t.Errorf("label %d at %v is outside %v", i, a.Box, bounds)
				}
				if a.Box.overlaps(obstacles[0]) {
					t.Errorf("label %d at %v covers the obstacle", i, a.Box)
				}
				if w, h := a.Box.X1-a.Box.X0, a.Box.Y1-a.Box.Y0; w != tc.reqs[i].W || h != tc.reqs[i].H {
					t.Errorf("label %d is %vx%v, asked %vx%v", i, w, h, tc.reqs[i].W, tc.reqs[i].H)
				}
				for j := i + 1; j < len(pos); j++ {
					if pos[j].Placed && a.Box.overlaps(pos[j].Box) {
						t.Errorf("labels %d %v and %d %v overlap", i, a.Box, j, pos[j].Box)
					}
				}
			}
			if placed < tc.minPlaced {
				t.Errorf("placed %d of %d labels, want at least %d", placed, len(tc.reqs), tc.minPlaced)
			}
		})
	}
}

func repeatReq(n int, at func(int) (float64, float64)) []labelReq {
	out := make([]labelReq, n)
	for i := range out {
		x, y := at(i)
		out[i] = labelReq{AX: x, AY: y, W: labelWidth(fmt.Sprintf("%dx256", i)), H: labelH}
	}
	return out
}

func TestRectOverlaps(t *testing.T) {
	a := rect{0, 0, 10, 10}
	tests := []struct {
		b    rect
		want bool
	}{
		{rect{5, 5, 15, 15}, true}, {rect{10, 0, 20, 10}, false}, {rect{0, 10, 10, 20}, false},
		{rect{2, 2, 3, 3}, true}, {rect{-5, -5, 0.1, 0.1}, true}, {rect{11, 11, 12, 12}, false},
	}
	for _, tc := range tests {
		if got := a.overlaps(tc.b); got != tc.want || tc.b.overlaps(a) != tc.want {
			t.Errorf("%v overlaps %v = %v, want %v", a, tc.b, got, tc.want)
		}
	}
}

// TestChartLabelsDoNotOverlap renders crowded reports and checks, from
// the SVG text positions, that no two point labels' boxes intersect and
// that every point of the realistic report is labelled.
func TestChartLabelsDoNotOverlap(t *testing.T) {
	crowded := realisticReport()
	for i := 0; i < 20; i++ {
		crowded.Points = append(crowded.Points, Point{Label: fmt.Sprintf("%dx64", 40+i), Kind: KindCodes, M: 40 + i, K: 64,
			Bytes: 500_000 + int64(i)*2_000, Fidelity: 0.995 + float64(i)*0.0002, Pass: true})
	}
	for name, r := range map[string]Report{"realistic": realisticReport(), "crowded": crowded} {
		v := newChart(r)
		var boxes []rect
		for _, l := range v.Labels {
			x, _ := strconv.ParseFloat(l.X, 64)
			y, _ := strconv.ParseFloat(l.Y, 64)
			x0, y1 := x-labelPad, y+3.5
			boxes = append(boxes, rect{x0, y1 - labelH, x0 + labelWidth(l.Text), y1})
		}
		for i := range boxes {
			for j := i + 1; j < len(boxes); j++ {
				if boxes[i].overlaps(boxes[j]) {
					t.Errorf("%s: labels %q and %q overlap", name, v.Labels[i].Text, v.Labels[j].Text)
				}
			}
		}
		if name == "realistic" && len(v.Labels) != len(r.Points) {
			t.Errorf("realistic: %d labels for %d points", len(v.Labels), len(r.Points))
		}
		if name == "crowded" && len(v.Labels) < len(r.Points)*3/4 {
			t.Errorf("crowded: only %d labels for %d points", len(v.Labels), len(r.Points))
		}
		for _, l := range v.Labels {
			if strings.Contains(l.Class, "recommended") && !strings.HasPrefix(l.Text, r.Points[r.Recommended].Label) {
				t.Errorf("%s: recommended label %q", name, l.Text)
			}
		}
	}
}
