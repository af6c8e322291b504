package sweep

import (
	"slices"
	"testing"
)

// TestDefaultGrid pins the default grid: the settings between GridMinRatio
// and GridMaxRatio, K = 256 among them where its codebook's bytes allow.
func TestDefaultGrid(t *testing.T) {
	for _, tc := range []struct {
		name       string
		rows, cols int64
		want       []Setting
	}{
		// GloVe 50k: 8x16 is 79.6x, 64x16 9.95x, 16x256 8.2x; 4x16 159x.
		{"glove-50k", 50000, 100, []Setting{{8, 16}, {16, 16}, {32, 16}, {64, 16}, {4, 256}, {8, 256}, {16, 256}}},
		// A small narrow table: 4x256's codebook alone is half the table.
		{"narrow", 2000, 16, []Setting{{2, 16}, {4, 16}, {8, 16}}},
		// A multilingual vocabulary: 64x16 68.9x, 8x256 92.6x, 4x256 185x.
		{"wide", 250000, 768, []Setting{{64, 16}, {8, 256}, {16, 256}}},
	} {
		got := DefaultGrid(tc.rows, tc.cols, tc.rows*tc.cols*4)
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s [%d, %d] float32: DefaultGrid = %v, want %v", tc.name, tc.rows, tc.cols, got, tc.want)
		}
	}
}
