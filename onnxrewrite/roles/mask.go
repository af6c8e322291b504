package roles

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
)

// companionIDs is the ids tensor an input goes with, given or generated,
// and whether it was generated.
func companionIDs(in Input, given map[string]model.HostTensor, made map[string]Value) (model.HostTensor, bool, bool) {
	if t, ok := given[in.With]; ok {
		return t, false, true
	}
	if v, ok := made[in.With]; ok {
		return v.Tensor, true, true
	}
	return model.HostTensor{}, false, false
}

// mask makes an attention mask: ones, or with a padding id ones up to each
// row's length (the given ids' padding, or a random length per row, the
// generated ids then padded after it).
func (r *Roles) mask(in Input, shape []int64, given map[string]model.HostTensor, made map[string]Value, rng *rand.Rand) (Value, error) {
	n, err := model.ElemCount(shape)
	if err != nil {
		return Value{}, err
	}
	ids, generated, ok := companionIDs(in, given, made)
	if r.Pad < 0 || !ok || len(shape) == 0 || !slices.Equal(ids.Shape, shape) || n == 0 {
		t, err := fill(in.Elem, n, func(int) float64 { return 1 })
		return Value{Tensor: t, Values: "ones (attention mask: every position a token)"}, err
	}
	width := int(shape[len(shape)-1])
	rows := n / width
	lengths := make([]int, rows)
	for row := range lengths {
		if generated {
			lengths[row] = 1 + rng.IntN(width)
			for j := lengths[row]; j < width; j++ {
				setInt(ids, row*width+j, r.Pad)
			}
			continue
		}
		for j := width - 1; j >= 0; j-- {
			if intAt(ids, row*width+j) != r.Pad {
				lengths[row] = j + 1
				break
			}
		}
	}
	t, err := fill(in.Elem, n, func(i int) float64 {
		if i%width < lengths[i/width] {
			return 1
		}
		return 0
	})
	how := fmt.Sprintf("ones up to the last id of each row of input %s that is not padding (%d), zeros after", in.With, r.Pad)
	if generated {
		how = fmt.Sprintf("ones up to a random length in [1, %d] per row, zeros after, where input %s is padded with %d", width, in.With, r.Pad)
	}
	return Value{Tensor: t, Values: how}, err
}

// offsets makes an EmbeddingBag's offsets: 0, then distinct sorted starts
// in (0, n) for n ids, so that every bag holds at least one id.
func (r *Roles) offsets(in Input, shape []int64, given map[string]model.HostTensor, made map[string]Value, rng *rand.Rand) (Value, error) {
	bags, err := model.ElemCount(shape)
	if err != nil {
		return Value{}, err
	}
	ids, _, ok := companionIDs(in, given, made)
	if !ok {
		return Value{}, fmt.Errorf("bag offsets need their ids, input %q", in.With)
	}
	n, err := model.ElemCount(ids.Shape)
	if err != nil {
		return Value{}, err
	}
	if bags == 0 || n < bags {
		return Value{}, fmt.Errorf("%d bags need at least as many ids; input %q has %d", bags, in.With, n)
	}
	starts := make([]int64, 1, bags)
	// Selection sampling: each of 1..n-1 is a start with the probability
	// that leaves the remaining starts evenly drawn from the rest.
	for k := 1; k < n && len(starts) < bags; k++ {
		need, left := bags-len(starts), n-k
		if rng.IntN(left) < need {
			starts = append(starts, int64(k))
		}
	}
	t, err := FromInt64s(in.Elem, nil, starts)
	return Value{Tensor: t, Values: fmt.Sprintf("%d sorted bag starts from 0 over the %d ids of input %s, every bag non-empty", bags, n, in.With)}, err
}

// intAt reads element i of an integer tensor.
func intAt(t model.HostTensor, i int) int64 {
	switch d := t.Data.(type) {
	case []int64:
		return d[i]
	case []int32:
		return int64(d[i])
	case []uint8:
		return int64(d[i])
	case []uint16:
		return int64(d[i])
	}
	return 0
}

// setInt writes element i of an integer tensor.
func setInt(t model.HostTensor, i int, v int64) {
	switch d := t.Data.(type) {
	case []int64:
		d[i] = v
	case []int32:
		d[i] = int32(v)
	case []uint8:
		d[i] = uint8(v)
	case []uint16:
		d[i] = uint16(v)
	}
}
