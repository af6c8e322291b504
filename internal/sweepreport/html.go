package sweepreport

import (
	"bytes"
	"html/template"
	"io"
)

// page is the data of the HTML template.
type page struct {
	R              Report
	FidelityName   string
	Original       string
	Chart          chartView
	Rows           []row
	Recommendation string
	Rec            *row
}

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// WriteHTML writes the report as one self-contained HTML file: inline CSS
// and an inline SVG chart, no scripts and no external references. The
// output depends on r alone.
func WriteHTML(w io.Writer, r Report) error {
	if err := r.check(); err != nil {
		return err
	}
	pg := page{R: r, FidelityName: fidelityName(r), Chart: newChart(r), Rows: rows(r)}
	if r.OriginalBytes > 0 {
		pg.Original = formatSize(r.OriginalBytes)
	}
	for i := range pg.Rows {
		if pg.Rows[i].Recommended {
			pg.Rec = &pg.Rows[i]
		}
	}
	if pg.Rec == nil {
		pg.Recommendation = recommendationText(r)
	}
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, pg); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}
