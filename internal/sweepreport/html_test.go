package sweepreport

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func render(t *testing.T, r Report) string {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteHTML(&buf, r); err != nil {
		t.Fatalf("WriteHTML: %v", err)
	}
	return buf.String()
}

func TestWriteHTMLEscapes(t *testing.T) {
	r := realisticReport()
	r.Points[0].Label = `<script>alert("x")</script>`
	r.Points[1].Note = `<img src=x onerror=alert(1)>`
	r.Model = `m<b>odel</b>.onnx`
	r.Command = `embshrink compress -o "a&b.onnx" </dev/null`
	out := render(t, r)
	for _, bad := range []string{"<script", "<img", "<b>", `"a&b`, "</dev"} {
		if strings.Contains(out, bad) {
			t.Errorf("output contains unescaped %q", bad)
		}
	}
	for _, good := range []string{"&lt;script&gt;", "&lt;img src=x", "m&lt;b&gt;odel", "&#34;a&amp;b.onnx&#34; &lt;/dev/null"} {
		if !strings.Contains(out, good) {
			t.Errorf("output lacks escaped %q", good)
		}
	}
}

func TestWriteHTMLSelfContained(t *testing.T) {
	out := render(t, realisticReport())
	for _, bad := range []string{"http", "<script", "src=", "url(", "@import", "<link"} {
		if strings.Contains(strings.ToLower(out), bad) {
			t.Errorf("output contains %q", bad)
		}
	}
}

func TestWriteHTMLDeterministic(t *testing.T) {
	r := realisticReport()
	first := render(t, r)
	for i := 0; i < 5; i++ {
		if got := render(t, realisticReport()); got != first {
			t.Fatalf("render %d differs from the first", i)
		}
	}
	var buf bytes.Buffer
	if err := Table(&buf, r); err != nil {
		t.Fatal(err)
	}
	var again bytes.Buffer
	_ = Table(&again, realisticReport())
	if buf.String() != again.String() {
		t.Errorf("Table output differs between runs")
	}
}

func TestWriteHTMLElements(t *testing.T) {
	r := realisticReport()
	r.MeasuredOn = "given --inputs"
	out := render(t, r)
	want := []string{`class="axis x"`, `class="axis y"`, `class="gate"`, `id="recommendation"`, `<span>measured on given --inputs</span>`,
		`id="recommended-point"`, `class="pareto"`, `>gate 0.99<`, `<code>` + r.Command + `</code>`,
		`>100 KB<`, `>1 MB<`, `>0.98<`, `class="legend"`}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %s", w)
		}
	}
	for _, p := range r.Points {
		kind := `class="point ` + p.Kind
		if n := strings.Count(out, kind); n == 0 {
			t.Errorf("no %s element", kind)
		}
		if !strings.Contains(out, `data-label="`+p.Label+`" `) {
			t.Errorf("no element with data-label %q", p.Label)
		}
	}
	if n := strings.Count(out, `class="point codes`); n != 8 {
		t.Errorf("%d code markers, want 8", n)
	}
	if n := strings.Count(out, `class="point reference`); n != 3 {
		t.Errorf("%d reference markers, want 3", n)
	}
	if n := strings.Count(out, `<polyline class="curve"`); n != 2 {
		t.Errorf("%d curves, want 2 (K = 16 and K = 256)", n)
	}
	// The table is sorted by bytes: 8x16 (42 KB) before int4 blocked before float16.
	a, b, c := strings.Index(out, `<tr data-label="8x16"`), strings.Index(out, `<tr data-label="int4 blocked"`), strings.Index(out, `<tr data-label="float16"`)
	if !(a >= 0 && a < b && b < c) {
		t.Errorf("table rows not sorted by bytes: %d %d %d", a, b, c)
	}
}

func TestWriteHTMLEdgeCases(t *testing.T) {
	nan := math.NaN()
	one := realisticReport()
	one.Points, one.Recommended = one.Points[4:5], 0
	none := realisticReport()
	none.Points, none.Recommended = nil, -1
	fail := realisticReport()
	fail.Recommended = -1
	for i := range fail.Points {
		fail.Points[i].Pass = false
	}
	nanFid := realisticReport()
	nanFid.Points[2].Fidelity = nan
	nanFid.Gate = nan
	same := realisticReport()
	for i := range same.Points {
		same.Points[i].Bytes = 100_000
	}
	tests := []struct {
		name      string
		r         Report
		want, not []string
		markers   int
	}{
		{"one point", one, []string{`data-label="32x16"`, "Recommended: 32x16", "<span>1 point</span>"}, []string{"no setting passes", "Pareto frontier"}, 1},
		{"no points", none, []string{"no setting passes the gate", "no point with a known fidelity to draw", `class="axis x"`}, []string{`class="point`}, 0},
		{"all failing", fail, []string{"no setting passes the gate", `class="point codes fail"`}, []string{`id="recommended-point"`, "Recommended:", `class="point codes pass"`}, 11},
		{"NaN fidelity", nanFid, []string{"<td>n/a</td>", `<tr data-label="16x16"`}, []string{`class="gate"`, "NaN"}, 10},
		{"identical bytes", same, []string{`class="axis x"`, ">100 KB<"}, []string{"NaN", "Inf"}, 11},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := render(t, tc.r)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q", w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(out, n) {
					t.Errorf("output contains %q", n)
				}
			}
			if n := strings.Count(out, `class="point `); n != tc.markers {
				t.Errorf("%d point markers, want %d", n, tc.markers)
			}
		})
	}
}

func TestWriteHTMLBadRecommended(t *testing.T) {
	for _, rec := range []int{-2, 11, 99} {
		r := realisticReport()
		r.Recommended = rec
		if err := WriteHTML(&bytes.Buffer{}, r); err == nil {
			t.Errorf("Recommended = %d: no error", rec)
		}
		if err := Table(&bytes.Buffer{}, r); err == nil {
			t.Errorf("Table, Recommended = %d: no error", rec)
		}
	}
}
