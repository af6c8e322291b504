package sweepreport

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Table writes every point as a plain-text table sorted by bytes, with
// aligned columns, for a terminal. The recommended row has a "*" in the
// REC column and the Pareto frontier with "yes"; the recommendation and its
// command, or the note that no setting passes the gate, follow the table.
// Latency and RSS columns read "ratio / +growth", "-" when not measured.
func Table(w io.Writer, r Report) error {
	if err := r.check(); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "REC\tLABEL\tKIND\tM\tK\tSIZE\tRATIO\tTABLE ERR\tWEIGHTED\tREADOUT\t"+strings.ToUpper(fidelityName(r))+
		"\tGATE\tPARETO\tOUTPUTS\tLOOKUP\tDECODE\tNOTE")
	for _, w := range rows(r) {
		mark, front, note, outs := "", "-", w.Note, "-"
		if w.Recommended {
			mark = "*"
		}
		if w.Pareto {
			front = "yes"
		}
		if note == "" {
			note = "-"
		}
		if w.OutputsCounted > 0 {
			outs = fmt.Sprintf("%d/%d pass", w.OutputsPassed, w.OutputsCounted)
		}
		fmt.Fprintln(tw, strings.Join([]string{mark, oneLine(w.Label), w.Kind, w.M, w.K, w.Size, w.Ratio, w.TableErr, w.WeightedErr, w.ReadoutErr,
			w.Fidelity, w.Gate, front, outs, w.Lookup, w.Decode, oneLine(note)}, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := io.WriteString(w, recommendationText(r)+"\n")
	return err
}

// oneLine keeps a cell on one line and free of tabs.
func oneLine(s string) string {
	return strings.NewReplacer("\t", " ", "\n", " ", "\r", " ").Replace(s)
}

func fidelityName(r Report) string {
	if r.FidelityName == "" {
		return "fidelity"
	}
	return r.FidelityName
}

// recommendationText says what the sweep recommends, with its command.
func recommendationText(r Report) string {
	if r.Recommended < 0 {
		if len(r.Points) == 0 {
			return "no setting passes the gate (the sweep has no points)"
		}
		return "no setting passes the gate"
	}
	p := r.Points[r.Recommended]
	s := fmt.Sprintf("recommended: %s (%s, %s, %s %s)", oneLine(p.Label), formatSize(p.Bytes),
		fmtRatio(p.Ratio), fidelityName(r), fmtFid(p.Fidelity))
	if r.Command != "" {
		s += "\n  " + oneLine(r.Command)
	}
	return s
}
