package sweepreport

import (
	"math"
	"reflect"
	"testing"
)

func TestPareto(t *testing.T) {
	nan := math.NaN()
	pt := func(bytes int64, fid float64) Point { return Point{Bytes: bytes, Fidelity: fid} }
	tests := []struct {
		name   string
		points []Point
		want   []int
	}{
		{"empty", nil, nil},
		{"one", []Point{pt(10, 0.5)}, []int{0}},
		{"sorted by bytes", []Point{pt(300, 0.99), pt(100, 0.9), pt(200, 0.95)}, []int{1, 2, 0}},
		{"dominated dropped", []Point{pt(100, 0.9), pt(200, 0.85), pt(300, 0.95)}, []int{0, 2}},
		{"larger and equal fidelity dropped", []Point{pt(100, 0.9), pt(200, 0.9)}, []int{0}},
		{"same bytes lower fidelity dropped", []Point{pt(100, 0.8), pt(100, 0.9)}, []int{1}},
		{"identical points both kept", []Point{pt(100, 0.9), pt(100, 0.9)}, []int{0, 1}},
		{"NaN never on it nor dominating", []Point{pt(50, nan), pt(100, 0.9), pt(80, nan)}, []int{1}},
		{"all NaN", []Point{pt(50, nan), pt(60, nan)}, nil},
		{"smallest wins at top", []Point{pt(500, 1), pt(100, 1), pt(50, 0.2)}, []int{2, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Pareto(tc.points); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Pareto = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestParetoRealistic(t *testing.T) {
	r := realisticReport()
	var labels []string
	for _, i := range Pareto(r.Points) {
		labels = append(labels, r.Points[i].Label)
	}
	want := []string{"8x16", "12x16", "16x16", "24x16", "32x16", "int4 blocked", "16x256", "32x256", "float16"}
	if !reflect.DeepEqual(labels, want) {
		t.Errorf("frontier %v, want %v", labels, want)
	}
}
