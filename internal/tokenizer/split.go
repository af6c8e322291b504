package tokenizer

import (
	"fmt"
	"unicode/utf8"
)

// piece is a part of the input text on its way to the model. first says it
// starts the input (no added token or split before it), which Metaspace's
// prepend_scheme "first" asks.
type piece struct {
	s     string
	first bool
}

// behavior is what a split does with the parts that match.
type behavior int

const (
	removed behavior = iota
	isolated
	mergedWithPrevious
	mergedWithNext
	contiguous
)

func parseBehavior(s string) (behavior, error) {
	switch s {
	case "Removed":
		return removed, nil
	case "Isolated", "":
		return isolated, nil
	case "MergedWithPrevious":
		return mergedWithPrevious, nil
	case "MergedWithNext":
		return mergedWithNext, nil
	case "Contiguous":
		return contiguous, nil
	}
	return 0, fmt.Errorf("split behavior %q is not supported", s)
}

// segment is a span of a piece that matched or did not.
type segment struct {
	span
	match bool
}

// segments covers s with the given matches (ascending, non-overlapping) and
// the gaps between them; invert swaps which is which.
func segments(s string, matches []span, invert bool) []segment {
	out := make([]segment, 0, 2*len(matches)+1)
	prev := 0
	for _, m := range matches {
		if m.start > prev {
			out = append(out, segment{span{prev, m.start}, invert})
		}
		out = append(out, segment{m, !invert})
		prev = m.end
	}
	if prev < len(s) {
		out = append(out, segment{span{prev, len(s)}, invert})
	}
	return out
}

// charMatches returns a match for each character of s that pred accepts;
// the tokenizers library splits on a character predicate so.
func charMatches(s string, pred func(rune) bool) []span {
	var out []span
	for i, n := 0, 0; i < len(s); i += n {
		var r rune
		r, n = utf8.DecodeRuneInString(s[i:])
		if pred(r) {
			out = append(out, span{i, i + n})
		}
	}
	return out
}

// apply splits p at the segments as the behavior says, dropping empty parts.
func (b behavior) apply(p piece, segs []segment) []piece {
	var spans []span
	switch b {
	case removed:
		for _, g := range segs {
			if !g.match {
				spans = append(spans, g.span)
			}
		}
	case isolated:
		for _, g := range segs {
			spans = append(spans, g.span)
		}
	case mergedWithPrevious:
		prevMatch := false
		for _, g := range segs {
			if g.match && !prevMatch && len(spans) > 0 {
				spans[len(spans)-1].end = g.end
			} else {
				spans = append(spans, g.span)
			}
			prevMatch = g.match
		}
	case mergedWithNext:
		spans = mergeWithNext(segs)
	case contiguous:
		prevMatch := false
		for i, g := range segs {
			if i > 0 && g.match == prevMatch {
				spans[len(spans)-1].end = g.end
			} else {
				spans = append(spans, g.span)
			}
			prevMatch = g.match
		}
	}
	out := make([]piece, 0, len(spans))
	for _, sp := range spans {
		if sp.end > sp.start {
			out = append(out, piece{p.s[sp.start:sp.end], p.first && sp.start == 0})
		}
	}
	return out
}

// mergeWithNext joins each match to the part after it, unless that part is
// a match too, walking from the end as the tokenizers library does.
func mergeWithNext(segs []segment) []span {
	rev := make([]span, 0, len(segs))
	nextMatch := false
	for i := len(segs) - 1; i >= 0; i-- {
		g := segs[i]
		if g.match && !nextMatch && len(rev) > 0 {
			rev[len(rev)-1].start = g.start
		} else {
			rev = append(rev, g.span)
		}
		nextMatch = g.match
	}
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	return rev
}
