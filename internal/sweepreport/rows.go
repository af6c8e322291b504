package sweepreport

import (
	"fmt"
	"math"
	"strconv"
)

// row is one point formatted for a table (HTML or text).
type row struct {
	Index                         int
	Label, Kind, M, K             string
	Size, Bytes, Ratio, TableErr  string
	WeightedErr, ReadoutErr       string
	Fidelity, Gate                string
	Pass, Pareto, Recommended     bool
	Outputs                       []string
	Lookup, Decode, Note          string
	OutputsPassed, OutputsCounted int
}

// rows formats every point, sorted by bytes (ties keep their order).
func rows(r Report) []row {
	onFront := map[int]bool{}
	for _, i := range Pareto(r.Points) {
		onFront[i] = true
	}
	var out []row
	for _, i := range byBytes(r.Points) {
		p := r.Points[i]
		w := row{
			Index: i, Label: p.Label, Kind: p.Kind, M: "-", K: "-",
			Size: formatSize(p.Bytes), Bytes: strconv.FormatInt(p.Bytes, 10),
			Ratio: fmtRatio(p.Ratio), TableErr: fmtSci(p.TableError), WeightedErr: fmtOptSci(p.WeightedError), ReadoutErr: fmtOptSci(p.ReadoutError),
			Fidelity: fmtFid(p.Fidelity), Gate: passText(p.Pass),
			Pass: p.Pass, Pareto: onFront[i], Recommended: i == r.Recommended,
			Lookup: fmtCost(p.LookupLatency, p.LookupRSS), Decode: fmtCost(p.DecodeLatency, p.DecodeRSS),
			Note: p.Note, OutputsCounted: len(p.Outputs),
		}
		if p.Kind == KindCodes {
			w.M, w.K = strconv.Itoa(p.M), strconv.Itoa(p.K)
		}
		for _, o := range p.Outputs {
			if o.Pass {
				w.OutputsPassed++
			}
			w.Outputs = append(w.Outputs, fmtOutput(o))
		}
		out = append(out, w)
	}
	return out
}

func fmtRatio(f float64) string {
	if !finite(f) || f <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1fx", f)
}

// fmtOptSci is fmtSci for a figure that only some points have: "-" where
// it is NaN, or 0 (not set).
func fmtOptSci(f float64) string {
	if f == 0 || math.IsNaN(f) {
		return "-"
	}
	return fmtSci(f)
}

func fmtSci(f float64) string {
	if !finite(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.2e", f)
}

// fmtCost formats a latency ratio and an RSS growth; "-" when neither was
// measured.
func fmtCost(latency float64, rss int64) string {
	lat, mem := "-", "-"
	if latency != 0 && finite(latency) {
		lat = fmt.Sprintf("%.2fx", latency)
	}
	switch {
	case rss > 0:
		mem = "+" + formatSize(rss)
	case rss < 0: // the run took less than the original's: noise or a real saving
		mem = "-" + formatSize(-rss)
	}
	if lat == "-" && mem == "-" {
		return "-"
	}
	return lat + " / " + mem
}

func fmtOutput(o OutputFigures) string {
	agree := "n/a"
	if finite(o.Agreement) {
		agree = fmt.Sprintf("%.4f", o.Agreement)
	}
	return fmt.Sprintf("%s: max|diff| %s, cos %s, agree %s, %s",
		o.Name, fmtSci(o.MaxAbsDiff), fmtCos(o.Cosine), agree, passText(o.Pass))
}

func fmtCos(f float64) string {
	if !finite(f) {
		return "n/a"
	}
	return fmt.Sprintf("%.6f", f)
}
