package sweepreport

import (
	"fmt"
	"math"
	"strconv"
)

// tick is one axis tick: its value and its text ("" for an unlabelled
// minor tick).
type tick struct {
	Value float64
	Label string
}

// formatBytes formats a byte count for an axis tick: three significant
// digits at most, trailing zeros dropped, decimal units ("50 KB", "1 MB",
// "2.5 MB").
func formatBytes(b float64) string {
	units := []string{"B", "KB", "MB", "GB", "TB"}
	u := 0
	for u < len(units)-1 && math.Abs(b) >= 1000 {
		b /= 1000
		u++
	}
	v, _ := strconv.ParseFloat(strconv.FormatFloat(b, 'g', 3, 64), 64)
	return strconv.FormatFloat(v, 'f', -1, 64) + " " + units[u]
}

// formatSize formats a size for a table with one decimal ("812.3 KB").
func formatSize(b int64) string {
	if b < 1000 && b > -1000 {
		return fmt.Sprintf("%d B", b)
	}
	units := []string{"KB", "MB", "GB", "TB"}
	v := float64(b) / 1000
	u := 0
	for u < len(units)-1 && math.Abs(v) >= 999.95 {
		v /= 1000
		u++
	}
	return fmt.Sprintf("%.1f %s", v, units[u])
}

// xRange returns the byte range of the log axis for the given sizes (all
// > 0): the sizes padded by a tenth of their span in decades, at least a
// factor of 1.5 either side when they are (nearly) equal.
func xRange(sizes []float64) (lo, hi float64) {
	if len(sizes) == 0 {
		return 1e3, 1e7
	}
	lo, hi = sizes[0], sizes[0]
	for _, s := range sizes {
		lo = math.Min(lo, s)
		hi = math.Max(hi, s)
	}
	l0, l1 := math.Log10(lo), math.Log10(hi)
	pad := math.Max((l1-l0)*0.08, math.Log10(1.5))
	return math.Pow(10, l0-pad), math.Pow(10, l1+pad)
}

// logTicks returns the ticks of a log10 byte axis from lo to hi (lo > 0):
// the powers of ten when there are at least four of them, else 1-2-5 per
// decade, else every integer multiple, with at most maxTicks ticks (powers
// of ten are thinned to every n-th decade beyond that).
func logTicks(lo, hi float64, maxTicks int) []tick {
	gen := func(mults []float64, every int) []tick {
		var ts []tick
		d0 := int(math.Floor(math.Log10(lo)))
		d1 := int(math.Ceil(math.Log10(hi)))
		for d := d0; d <= d1; d++ {
			if every > 1 && ((d%every)+every)%every != 0 {
				continue
			}
			for _, m := range mults {
				v := m * math.Pow(10, float64(d))
				if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
					ts = append(ts, tick{Value: v, Label: formatBytes(v)})
				}
			}
		}
		return ts
	}
	if maxTicks < 2 {
		maxTicks = 2
	}
	ones := gen([]float64{1}, 1)
	if len(ones) >= 4 {
		for every := 2; len(ones) > maxTicks; every++ {
			ones = gen([]float64{1}, every)
		}
		return ones
	}
	fives := gen([]float64{1, 2, 5}, 1)
	if len(fives) >= 3 && len(fives) <= maxTicks {
		return fives
	}
	all := gen([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9}, 1)
	if len(all) <= maxTicks || len(fives) < 2 {
		return all
	}
	return fives
}

// niceStep rounds raw up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if !(raw > 0) {
		return 1
	}
	p := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if m*p >= raw*(1-1e-9) {
			return m * p
		}
	}
	return 10 * p
}

// yRange returns the fidelity axis for the given finite values: a range
// snapped to a nice step that holds every value with a little room, not
// beyond 1 when no value exceeds 1 (nor below 0 or -1 when none is below),
// and its labelled ticks with as many decimals as the step needs.
func yRange(values []float64) (lo, hi float64, ticks []tick) {
	if len(values) == 0 {
		values = []float64{0, 1}
	}
	vmin, vmax := values[0], values[0]
	for _, v := range values {
		vmin = math.Min(vmin, v)
		vmax = math.Max(vmax, v)
	}
	pad := (vmax - vmin) * 0.06
	if pad < 1e-3 {
		pad = math.Max(1e-3, math.Abs(vmax)*0.005)
	}
	step := niceStep((vmax - vmin + 2*pad) / 6)
	lo = math.Floor((vmin-pad)/step+1e-9) * step
	hi = math.Ceil((vmax+pad)/step-1e-9) * step
	clo, chi := lo, hi
	for _, c := range []float64{1, 0} {
		if vmax <= c && chi > c {
			chi = c
		}
	}
	for _, c := range []float64{0, -1} {
		if vmin >= c && clo < c {
			clo = c
		}
	}
	if chi-clo >= step {
		lo, hi = clo, chi
	}
	decimals := 0
	if step < 1 {
		decimals = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	for k := math.Ceil(lo/step - 1e-9); k*step <= hi+step*1e-9; k++ {
		v := k * step
		if v == 0 {
			v = 0 // not -0, which would print as "-0.0"
		}
		ticks = append(ticks, tick{Value: v, Label: strconv.FormatFloat(v, 'f', decimals, 64)})
	}
	return lo, hi, ticks
}
