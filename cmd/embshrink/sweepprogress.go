package main

import (
	"fmt"
	"io"
	"os"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/embshrink/embshrink/onnxrewrite/sweep"
)

// sweepProgress shows a sweep on stderr: a bar over the settings on a
// terminal, one line per setting otherwise.
type sweepProgress struct {
	w   io.Writer
	tty bool
	bar *progressbar.ProgressBar
}

func newSweepProgress(w io.Writer) *sweepProgress {
	p := &sweepProgress{w: w}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
	}
	return p
}

func (p *sweepProgress) event(ev sweep.Event) {
	if p.tty {
		if p.bar == nil {
			p.bar = progressbar.NewOptions(ev.Total, progressbar.OptionSetWriter(p.w), progressbar.OptionShowCount(),
				progressbar.OptionSetWidth(30), progressbar.OptionClearOnFinish())
		}
		p.bar.Describe(fmt.Sprintf("sweep %-10s %s", ev.Label, ev.Phase))
		if ev.Phase == "done" || ev.Phase == "skip" {
			p.bar.Add(1)
		}
	}
	line := ""
	switch ev.Phase {
	case "skip":
		line = fmt.Sprintf("sweep %d/%d %s: skipped: %s", ev.Index+1, ev.Total, ev.Label, ev.Note)
	case "done":
		pt := ev.Point
		verdict := "PASS"
		if !pt.Pass {
			verdict = "FAIL"
		}
		how := "learned"
		if pt.Kind != "codes" {
			how = "reference"
		} else if pt.Cached {
			how = "cached"
		}
		line = fmt.Sprintf("sweep %d/%d %s: %s, %d bytes (%.1fx), fidelity %.4f, %s", ev.Index+1, ev.Total, ev.Label, how, pt.Bytes, pt.Ratio, pt.Fidelity, verdict)
	}
	if line == "" {
		return
	}
	if p.tty {
		p.bar.Clear()
	}
	fmt.Fprintln(p.w, line)
}

func (p *sweepProgress) close() {
	if p.bar != nil {
		p.bar.Finish()
	}
}
