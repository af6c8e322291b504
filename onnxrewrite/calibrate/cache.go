package calibrate

import (
	"fmt"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Cache is how sampling feeds a decoder with a key/value cache one token
// a step: each past input (past_key_values.N.key, [batch, heads, past,
// head_dim]) takes the output of the step before whose name is the
// input's with "past_key_values" (or "past") read "present". Without one,
// each step would run every position again and output [N, t, V] scores,
// (L-1)/2 times the work and, for a 50,257-row vocabulary, gigabytes of
// scores at 300 sequences of 48.
type Cache struct {
	// Present maps each past input to the output that feeds it.
	Present map[string]string
}

// findCache returns lm's cache, or nil when the model has none or a step
// of one token cannot be fed: a past input without its present output or
// with a dynamic dimension besides the batch and the past length, or a
// mask, position ids or token types not [batch, seq].
func findCache(m *model.Model, lm *LM) *Cache {
	outs := map[string]bool{}
	for _, o := range m.Proto.GetGraph().GetOutput() {
		outs[o.Name] = true
	}
	c := &Cache{Present: map[string]string{}}
	for _, in := range lm.Extra {
		switch in.Kind {
		case roles.Past:
			name := presentName(in.Name, outs)
			if name == "" || len(in.Shape) != 4 {
				return nil
			}
			for j, d := range in.Shape {
				if d <= 0 && j != 0 && j != in.PastAxis {
					return nil
				}
			}
			c.Present[in.Name] = name
		case roles.Mask, roles.Positions, roles.TokenTypes:
			if len(in.Shape) != 2 {
				return nil
			}
		}
	}
	if len(c.Present) == 0 {
		return nil
	}
	return c
}

// presentName is the output that feeds a past input, "" if none.
func presentName(past string, outs map[string]bool) string {
	for _, from := range []string{"past_key_values", "past"} {
		if name := strings.Replace(past, from, "present", 1); name != past && outs[name] {
			return name
		}
	}
	return ""
}

// stepFeed builds the inputs of step t: the ids of position t of every
// sequence [n, 1], a mask of ones over positions 0..t, position ids t,
// token types 0, the cache of the step before (prev; empty at t = 0) and
// use_cache_branch true after the first step (the first runs the no-past
// branch, as generation does).
func (lm *LM) stepFeed(ids []int64, n, t int, prev map[string]ort.HostTensor) (map[string]ort.HostTensor, error) {
	idsT, err := roles.FromInt64s(lm.IDElem, []int64{int64(n), 1}, ids)
	if err != nil {
		return nil, fmt.Errorf("input %q: %w", lm.IDs, err)
	}
	feed := map[string]ort.HostTensor{lm.IDs: idsT}
	for _, in := range lm.Extra {
		if in.Kind == roles.Past && t > 0 {
			feed[in.Name] = prev[lm.Cache.Present[in.Name]]
			continue
		}
		shape, vals := stepInput(in, n, t)
		v, err := roles.FromInt64s(in.Elem, shape, vals)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		v.Shape = shape
		feed[in.Name] = v
	}
	return feed, nil
}

// stepInput is the shape and values of input in (not the ids) at step t
// of n sequences; a past is the empty one of the first step.
func stepInput(in roles.Input, n, t int) ([]int64, []int64) {
	switch in.Kind {
	case roles.Mask:
		return []int64{int64(n), int64(t + 1)}, repeat(1, n*(t+1))
	case roles.Positions:
		return []int64{int64(n), 1}, repeat(int64(t), n)
	case roles.UseCache:
		shape := make([]int64, len(in.Shape))
		for i := range shape {
			shape[i] = 1
		}
		return shape, []int64{int64(min(t, 1))}
	case roles.Past:
		shape := append([]int64(nil), in.Shape...)
		shape[0], shape[in.PastAxis] = int64(n), 0
		return shape, nil
	}
	return []int64{int64(n), 1}, repeat(0, n) // token types
}

func repeat(x int64, n int) []int64 {
	v := make([]int64, n)
	for i := range v {
		v[i] = x
	}
	return v
}
