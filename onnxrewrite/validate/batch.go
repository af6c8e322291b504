package validate

import (
	"fmt"
	"slices"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Generated inputs run in chunks along the batch dimension, so that what
// ONNX Runtime allocates inside a run (a [batch, seq, dim] Gather output,
// say) stays bounded whatever --samples is: at most maxChunkSamples
// samples, and at most maxChunkBytes of inputs and outputs per run.
const (
	maxChunkSamples = 4096
	maxChunkBytes   = 32 << 20
)

// runner runs one model on given inputs.
type runner interface {
	Run(map[string]ort.HostTensor) (map[string]ort.HostTensor, error)
}

// chunkSize is how many samples of batch go in one run, given the bytes
// of all inputs and outputs for the whole batch.
func chunkSize(batch int64, ioBytes uint64) int64 {
	if batch <= 0 {
		return batch
	}
	per := max(ioBytes/uint64(batch), 1)
	return max(1, min(batch, maxChunkSamples, int64(maxChunkBytes/per)))
}

// chunking is how a batch runs: whole (chunk >= batch, or batch < 0), or
// in chunks of chunk samples along axis 0 of the batch-major inputs
// (major), the others fed whole to every run.
type chunking struct {
	batch, chunk int64
	major        []string
}

// givenChunking runs given inputs whole, or one sample at a time where
// the model's batch is fixed at 1 and they hold more (roles.SplitRows).
func givenChunking(r *roles.Roles, inputs map[string]ort.HostTensor) (chunking, error) {
	n, major, err := r.SplitRows(inputs)
	if err != nil || n == 1 {
		return chunking{batch: -1, chunk: -1}, err
	}
	return chunking{batch: n, chunk: 1, major: major}, nil
}

func (c chunking) run(r runner, inputs map[string]ort.HostTensor) (map[string]ort.HostTensor, error) {
	return runChunked(r, inputs, c.major, c.batch, c.chunk)
}

// runChunked runs r on inputs in chunks of chunk samples along axis 0 of
// the inputs named in major, each having batch there, and joins the
// outputs along axis 0. An output whose first dimension is not the chunk's
// size cannot be joined: the batch then runs whole if it fits in one
// chunk, else the error says so.
func runChunked(r runner, inputs map[string]ort.HostTensor, major []string, batch, chunk int64) (map[string]ort.HostTensor, error) {
	if chunk >= batch {
		return r.Run(inputs)
	}
	var joined map[string]ort.HostTensor
	for lo := int64(0); lo < batch; lo += chunk {
		hi := min(lo+chunk, batch)
		part := map[string]ort.HostTensor{}
		for name, t := range inputs {
			part[name] = t
			if slices.Contains(major, name) {
				part[name] = model.SliceRows(t, lo, hi)
			}
		}
		out, err := r.Run(part)
		if err != nil {
			return nil, err
		}
		if joined == nil {
			joined = map[string]ort.HostTensor{}
		}
		for name, t := range out {
			if len(t.Shape) == 0 || t.Shape[0] != hi-lo {
				return nil, fmt.Errorf("output %q has shape %v for a chunk of %d samples: it is not batch-major, so --samples above %d cannot be run in chunks", name, t.Shape, hi-lo, chunk)
			}
			joined[name] = model.AppendRows(joined[name], t)
		}
	}
	return joined, nil
}

// batchOf is the common first dimension of the inputs named in major, or
// -1 when they have none.
func batchOf(inputs map[string]ort.HostTensor, major []string) int64 {
	b := int64(-1)
	for _, name := range major {
		t, ok := inputs[name]
		if !ok {
			continue
		}
		if len(t.Shape) == 0 || (b >= 0 && t.Shape[0] != b) {
			return -1
		}
		b = t.Shape[0]
	}
	return b
}

// ioBytes is the bytes of the inputs, plus the declared outputs scaled to
// the batch (unknown dimensions counted as the batch on axis 0, else 1).
func ioBytes(inputs map[string]ort.HostTensor, outputs []ort.IOInfo, batch int64) uint64 {
	var n uint64
	for _, t := range inputs {
		c, _ := ort.ElemCount(t.Shape)
		n += uint64(c) * uint64(max(model.ElemBits(hostElem(t))/8, 1))
	}
	for _, o := range outputs {
		c := uint64(max(model.ElemBits(o.Elem)/8, 1))
		for j, d := range o.Shape {
			switch {
			case d >= 0:
				c *= uint64(d)
			case j == 0:
				c *= uint64(max(batch, 1))
			}
		}
		n += c
	}
	return n
}
