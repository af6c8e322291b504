package validate

import (
	"reflect"
	"testing"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// rowSum is a fake model: out[i] = sum of ids row i; bad returns a
// non-batch-major output.
type rowSum struct{ bad bool }

func (r rowSum) Run(in map[string]ort.HostTensor) (map[string]ort.HostTensor, error) {
	t := in["ids"]
	d := t.Data.([]int64)
	n, w := t.Shape[0], t.Shape[1]
	out := make([]float32, n)
	for i := int64(0); i < n; i++ {
		for j := int64(0); j < w; j++ {
			out[i] += float32(d[i*w+j])
		}
	}
	if r.bad {
		return map[string]ort.HostTensor{"y": {Shape: []int64{1, n}, Data: out, Elem: model.Float32}}, nil
	}
	return map[string]ort.HostTensor{"y": {Shape: []int64{n}, Data: out, Elem: model.Float32}}, nil
}

// TestRunChunked: chunked runs join to what one run gives; an output that
// is not batch-major is refused when chunks are needed.
func TestRunChunked(t *testing.T) {
	const n, w = 1003, 3
	ids := make([]int64, n*w)
	for i := range ids {
		ids[i] = int64(i % 17)
	}
	in := map[string]ort.HostTensor{"ids": {Shape: []int64{n, w}, Data: ids, Elem: model.Int64}}
	whole, _ := rowSum{}.Run(in)
	for _, chunk := range []int64{1, 7, 100, 1002, 1003, 5000} {
		got, err := runChunked(rowSum{}, in, []string{"ids"}, batchOf(in, []string{"ids"}), chunk)
		if err != nil || !reflect.DeepEqual(got, whole) {
			t.Fatalf("chunk %d: %v, outputs differ: %v", chunk, err, err)
		}
	}
	if _, err := runChunked(rowSum{bad: true}, in, []string{"ids"}, n, 100); err == nil {
		t.Fatal("a non-batch-major output was joined")
	}
	if c := chunkSize(100_000_000, 100_000_000*200); c != maxChunkSamples {
		t.Errorf("chunk of 10^8 small samples: %d, want %d", c, maxChunkSamples)
	}
	if c := chunkSize(64, 64*(1<<20)); c != 32 {
		t.Errorf("chunk of 1 MiB samples: %d, want 32", c)
	}
}
