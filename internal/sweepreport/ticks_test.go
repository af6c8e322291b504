package sweepreport

import (
	"math"
	"reflect"
	"testing"
)

func TestFormatBytes(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{500, "500 B"}, {1000, "1 KB"}, {50_000, "50 KB"}, {100_000, "100 KB"},
		{2_500_000, "2.5 MB"}, {1e6, "1 MB"}, {3e9, "3 GB"}, {123_456, "123 KB"},
	}
	for _, tc := range tests {
		if got := formatBytes(tc.in); got != tc.want {
			t.Errorf("formatBytes(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatSize(t *testing.T) {
	tests := []struct {
		in   int64
		want string
	}{
		{0, "0 B"}, {999, "999 B"}, {1000, "1.0 KB"}, {812_345, "812.3 KB"},
		{999_960, "1.0 MB"}, {3_900_000, "3.9 MB"}, {12_000_000_000, "12.0 GB"},
	}
	for _, tc := range tests {
		if got := formatSize(tc.in); got != tc.want {
			t.Errorf("formatSize(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func tickLabels(ts []tick) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Label)
	}
	return out
}

func TestLogTicks(t *testing.T) {
	tests := []struct {
		name   string
		lo, hi float64
		max    int
		want   []string
	}{
		{"two decades use 1-2-5", 33e3, 4.7e6, 11, []string{"50 KB", "100 KB", "200 KB", "500 KB", "1 MB", "2 MB"}},
		{"many decades use powers of ten", 500, 5e9, 11, []string{"1 KB", "10 KB", "100 KB", "1 MB", "10 MB", "100 MB", "1 GB"}},
		{"too many decades thinned", 2, 5e13, 5, []string{"1 KB", "1 MB", "1 GB", "1 TB"}},
		{"narrow range uses every multiple", 66e3, 150e3, 11, []string{"70 KB", "80 KB", "90 KB", "100 KB"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tickLabels(logTicks(tc.lo, tc.hi, tc.max))
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("logTicks(%v, %v, %d) = %q, want %q", tc.lo, tc.hi, tc.max, got, tc.want)
			}
		})
	}
}

func TestYRange(t *testing.T) {
	tests := []struct {
		name      string
		values    []float64
		lo, hi    float64
		wantTicks []string
	}{
		{"high values zoom in", []float64{0.95, 0.97, 1.0, 0.99}, 0.94, 1.0,
			[]string{"0.94", "0.95", "0.96", "0.97", "0.98", "0.99", "1.00"}},
		{"realistic", []float64{0.902, 0.99, 1.0}, 0.88, 1.0,
			[]string{"0.88", "0.90", "0.92", "0.94", "0.96", "0.98", "1.00"}},
		{"one value", []float64{0.5}, 0.497, 0.503, []string{"0.497", "0.498", "0.499", "0.500", "0.501", "0.502", "0.503"}},
		{"full range", []float64{0, 1}, 0, 1, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{"none", nil, 0, 1, []string{"0.0", "0.2", "0.4", "0.6", "0.8", "1.0"}},
		{"cosine may be negative", []float64{-0.5, 0.9}, -1, 1, []string{"-1.0", "-0.5", "0.0", "0.5", "1.0"}},
		{"all at one", []float64{1, 1}, 0.994, 1.0, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, hi, ts := yRange(tc.values)
			if math.Abs(lo-tc.lo) > 1e-9 || math.Abs(hi-tc.hi) > 1e-9 {
				t.Errorf("range [%v, %v], want [%v, %v]", lo, hi, tc.lo, tc.hi)
			}
			for _, v := range tc.values {
				if v < lo || v > hi {
					t.Errorf("value %v outside [%v, %v]", v, lo, hi)
				}
			}
			if len(ts) < 2 || len(ts) > 12 {
				t.Errorf("%d ticks %q, want 2 to 12", len(ts), tickLabels(ts))
			}
			if tc.wantTicks != nil && !reflect.DeepEqual(tickLabels(ts), tc.wantTicks) {
				t.Errorf("ticks %q, want %q", tickLabels(ts), tc.wantTicks)
			}
			seen := map[string]bool{}
			for _, tk := range ts {
				if seen[tk.Label] {
					t.Errorf("duplicate tick label %q in %q", tk.Label, tickLabels(ts))
				}
				seen[tk.Label] = true
			}
		})
	}
}

func TestNiceStep(t *testing.T) {
	for in, want := range map[float64]float64{0.013: 0.02, 0.02: 0.02, 0.03: 0.05, 0.07: 0.1, 3: 5, 0: 1} {
		if got := niceStep(in); math.Abs(got-want) > 1e-12 {
			t.Errorf("niceStep(%v) = %v, want %v", in, got, want)
		}
	}
}
