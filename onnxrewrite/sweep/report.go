package sweep

import (
	"fmt"
	"math"

	"github.com/embshrink/embshrink/internal/sweepreport"
	"github.com/embshrink/embshrink/onnxrewrite/validate"
)

// Report turns the result into what internal/sweepreport draws. command is
// the recommendation's `embshrink compress ...` command, generated free
// text such as the tool's version; gate describes the validate gate.
func (r *Result) Report(command, generated, gate string) sweepreport.Report {
	rep := sweepreport.Report{
		Model: r.Model, OriginalBytes: r.OriginalBytes, Table: r.Table,
		TableShape:   fmt.Sprintf("[%d, %d] %s", r.TableShape[0], r.TableShape[1], r.TableDType),
		FidelityName: r.FidelityName, GateText: gate, Recommended: r.Recommended, Generated: generated,
		Gate: math.NaN(),
	}
	if r.Recommended >= 0 {
		rep.Command = command
	}
	if len(r.Points) > 0 && r.Points[0].Compare != nil {
		c := r.Points[0].Compare
		if r.FidelityName == "decision agreement" && c.MinAgreement > 0 {
			rep.Gate = c.MinAgreement
		} else if r.FidelityName == "cosine" && c.MinCosine > 0 {
			rep.Gate = c.MinCosine
		}
	}
	for _, p := range r.Points {
		q := sweepreport.Point{Label: p.Label, Kind: sweepreport.KindCodes, M: p.M, K: p.K, Bytes: p.Bytes, Ratio: p.Ratio,
			TableError: p.TableRelSqErr, WeightedError: optFloat(p.WeightedRelSqErr), ReadoutError: optFloat(p.ReadoutRelSqErr),
			Fidelity: p.Fidelity, Pass: p.Pass, Note: p.Form}
		if p.Kind != "codes" {
			q.Kind = sweepreport.KindReference
		}
		if p.Compare != nil {
			for _, o := range p.Compare.Outputs {
				q.Outputs = append(q.Outputs, outputFigures(o))
			}
		}
		if c := p.Lookup; c != nil {
			q.LookupLatency, q.LookupRSS = c.LatencyRatio, c.RSSvsOriginal
		}
		if c := p.Decode; c != nil {
			q.DecodeLatency, q.DecodeRSS = c.LatencyRatio, c.RSSvsOriginal
		}
		rep.Points = append(rep.Points, q)
	}
	return rep
}

func outputFigures(o validate.OutputReport) sweepreport.OutputFigures {
	f := sweepreport.OutputFigures{Name: o.Name, MaxAbsDiff: o.MaxAbsDiff, Cosine: o.Cosine, Agreement: math.NaN(), Pass: o.Pass}
	if o.Agreement != nil {
		f.Agreement = *o.Agreement
	}
	return f
}

// GateText describes the gate of a comparison, as validate prints it.
func GateText(rep *validate.CompareReport) string {
	gate := fmt.Sprintf("max|a-b| <= %g + %g*max|original|", rep.ATol, rep.RTol)
	if rep.MinAgreement > 0 {
		gate += fmt.Sprintf(", or classifier decisions agree >= %g%%", 100*rep.MinAgreement)
		if rep.MinCosine > -1 {
			gate += fmt.Sprintf(" with cosine >= %g", rep.MinCosine)
		}
	}
	return gate
}

// optFloat is *f, or NaN for a figure the point does not have.
func optFloat(f *float64) float64 {
	if f == nil {
		return math.NaN()
	}
	return *f
}
