package npy

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
)

// header is the parsed header dictionary of an .npy file.
type header struct {
	descr   string
	fortran bool
	shape   []int
}

// parseHeader parses the header dictionary, a Python literal such as
//
//	{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
//
// followed by optional whitespace. Exactly the three keys must be present.
func parseHeader(s string) (header, error) {
	p := &litParser{s: s}
	var h header
	var seen [3]bool
	p.skipSpace()
	if !p.eat('{') {
		return h, errors.New("header is not a dict")
	}
	for {
		p.skipSpace()
		if p.eat('}') {
			break
		}
		key, err := p.str()
		if err != nil {
			return h, fmt.Errorf("header key: %w", err)
		}
		p.skipSpace()
		if !p.eat(':') {
			return h, fmt.Errorf("header: missing ':' after key %q", key)
		}
		p.skipSpace()
		var idx int
		switch key {
		case "descr":
			idx = 0
			h.descr, err = p.str()
		case "fortran_order":
			idx = 1
			h.fortran, err = p.boolean()
		case "shape":
			idx = 2
			h.shape, err = p.tuple()
		default:
			return h, fmt.Errorf("header: unexpected key %q", key)
		}
		if err != nil {
			return h, fmt.Errorf("header %q: %w", key, err)
		}
		if seen[idx] {
			return h, fmt.Errorf("header: duplicate key %q", key)
		}
		seen[idx] = true
		p.skipSpace()
		if p.eat(',') {
			continue
		}
		p.skipSpace()
		if !p.eat('}') {
			return h, errors.New("header: expected ',' or '}' in dict")
		}
		break
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return h, errors.New("header: unexpected text after the dict")
	}
	for i, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[i] {
			return h, fmt.Errorf("header: missing key %q", k)
		}
	}
	return h, nil
}

// litParser reads the small subset of Python literals used in .npy headers.
type litParser struct {
	s string
	i int
}

func (p *litParser) skipSpace() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			p.i++
		default:
			return
		}
	}
}

func (p *litParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// str reads a quoted string without escapes.
func (p *litParser) str() (string, error) {
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", errors.New("expected a quoted string")
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", errors.New("unterminated string")
	}
	v := p.s[p.i+1 : p.i+1+end]
	if strings.ContainsAny(v, "\\\n") {
		return "", errors.New("escapes in strings are not supported")
	}
	p.i += end + 2
	return v, nil
}

func (p *litParser) boolean() (bool, error) {
	switch {
	case strings.HasPrefix(p.s[p.i:], "True"):
		p.i += 4
		return true, nil
	case strings.HasPrefix(p.s[p.i:], "False"):
		p.i += 5
		return false, nil
	}
	return false, errors.New("expected True or False")
}

// tuple reads a tuple of non-negative integers: (), (3,), (3, 4), (3, 4,).
func (p *litParser) tuple() ([]int, error) {
	if !p.eat('(') {
		return nil, errors.New("expected a tuple")
	}
	dims := []int{}
	for {
		p.skipSpace()
		if p.eat(')') {
			if len(dims) == 1 {
				// "(3)" is an int in Python; "(3,)" is the tuple.
				return nil, errors.New("a one-element tuple needs a trailing comma")
			}
			return dims, nil
		}
		n, err := p.uint()
		if err != nil {
			return nil, err
		}
		dims = append(dims, n)
		p.skipSpace()
		if p.eat(',') {
			p.skipSpace()
			if p.eat(')') {
				return dims, nil
			}
			continue
		}
		if !p.eat(')') {
			return nil, errors.New("expected ',' or ')' in tuple")
		}
		if len(dims) == 1 {
			return nil, errors.New("a one-element tuple needs a trailing comma")
		}
		return dims, nil
	}
}

// uint reads a non-negative decimal integer that fits in an int. A trailing
// 'L' (written by Python 2) is accepted.
func (p *litParser) uint() (int, error) {
	start := p.i
	var v uint64
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(p.s[p.i]-'0'), 0)
		if hi != 0 || carry != 0 || lo > math.MaxInt {
			return 0, errors.New("dimension too large")
		}
		v = lo
		p.i++
	}
	if p.i == start {
		return 0, errors.New("expected a non-negative integer dimension")
	}
	p.eat('L')
	return int(v), nil
}

// formatHeader renders the dict the way numpy does (without padding).
func formatHeader(descr string, shape []int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{'descr': '%s', 'fortran_order': False, 'shape': (", descr)
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%d", d)
	}
	if len(shape) == 1 {
		b.WriteByte(',')
	}
	b.WriteString("), }")
	return b.String()
}
