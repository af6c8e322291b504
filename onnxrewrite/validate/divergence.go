package validate

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
	"github.com/embshrink/embshrink/onnxrewrite/roles"
)

// Divergence scores models by how far their outputs on fixed inputs are
// from a reference model's: per float output, the mean KL(reference ||
// model) over the last axis when it holds logits or probabilities, else
// the relative L2 distance |y - x| / |x|; the score is the mean over the
// outputs. Sessions run on one thread, so scores are reproducible.
type Divergence struct {
	rt     *ort.Runtime
	inputs map[string]ort.HostTensor
	ref    map[string]ort.HostTensor
	// runs is how the inputs run: whole, or one sample at a time where
	// the model's batch is fixed at 1.
	runs chunking
	// Kinds maps each compared output to "logits", "probabilities" or
	// "relative L2".
	Kinds map[string]string
}

// NewDivergence runs the reference model on inputs. An output is taken for
// logits when its name says so ("logit") or its last axis has one of the
// vocab sizes; for probabilities when each last-axis row is non-negative
// and sums to 1.
func NewDivergence(rt *ort.Runtime, reference string, inputs map[string]ort.HostTensor, vocab []int64) (*Divergence, error) {
	d := &Divergence{rt: rt, inputs: inputs, Kinds: map[string]string{}}
	m, err := model.Load(reference)
	if err != nil {
		return nil, err
	}
	r, err := roles.Detect(m)
	if err != nil {
		return nil, err
	}
	if d.runs, err = givenChunking(r, inputs); err != nil {
		return nil, err
	}
	ref, err := d.run(reference)
	if err != nil {
		return nil, err
	}
	d.ref = ref
	for name, t := range ref {
		x, ok := t.Data.([]float32)
		if !ok {
			continue
		}
		last := int64(1)
		if len(t.Shape) > 0 {
			last = t.Shape[len(t.Shape)-1]
		}
		switch {
		case last > 1 && isProbabilities(x, int(last)):
			d.Kinds[name] = "probabilities"
		case last > 1 && (strings.Contains(strings.ToLower(name), "logit") || slices.Contains(vocab, last)):
			d.Kinds[name] = "logits"
		default:
			d.Kinds[name] = "relative L2"
		}
	}
	if len(d.Kinds) == 0 {
		return nil, fmt.Errorf("%s: no float32 output to compare", reference)
	}
	return d, nil
}

func (d *Divergence) run(path string) (map[string]ort.HostTensor, error) {
	s, err := d.rt.NewSession(path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return d.runs.run(s, d.inputs)
}

// Describe says what the score measures, output by output.
func (d *Divergence) Describe() string {
	var parts []string
	for name, kind := range d.Kinds {
		what := "mean KL over the last axis"
		if kind == "relative L2" {
			what = "relative L2"
		}
		parts = append(parts, fmt.Sprintf("%s of %s (%s)", what, name, kind))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// ScoreFile runs the model file and scores its outputs.
func (d *Divergence) ScoreFile(path string) (float64, error) {
	out, err := d.run(path)
	if err != nil {
		return 0, err
	}
	var sum float64
	for name, kind := range d.Kinds {
		a, b := d.ref[name], out[name]
		x, _ := a.Data.([]float32)
		y, ok := b.Data.([]float32)
		if !ok || len(x) != len(y) {
			return 0, fmt.Errorf("%s: output %q is %T %v, the reference's float32 %v", path, name, b.Data, b.Shape, a.Shape)
		}
		last := 1
		if len(a.Shape) > 0 {
			last = int(a.Shape[len(a.Shape)-1])
		}
		switch kind {
		case "logits":
			sum += MeanKL(x, y, last, false)
		case "probabilities":
			sum += MeanKL(x, y, last, true)
		default:
			sum += RelL2(x, y)
		}
	}
	return sum / float64(len(d.Kinds)), nil
}

// Score saves m to a temporary folder and scores it.
func (d *Divergence) Score(m *model.Model) (float64, error) {
	dir, err := os.MkdirTemp("", "embshrink-score-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "candidate.onnx")
	if err := m.Save(path, model.SaveOptions{}); err != nil {
		return 0, err
	}
	return d.ScoreFile(path)
}

// MeanKL is the mean over rows of n values of KL(p || q), p and q the
// softmax of x and y (or x and y themselves when probs).
func MeanKL[T float32 | float64](x, y []T, n int, probs bool) float64 {
	rows := len(x) / n
	var sum float64
	p, q := make([]float64, n), make([]float64, n)
	for r := 0; r < rows; r++ {
		toDist(x[r*n:(r+1)*n], p, probs)
		toDist(y[r*n:(r+1)*n], q, probs)
		for i := range p {
			if p[i] > 0 {
				sum += p[i] * (math.Log(p[i]) - math.Log(math.Max(q[i], 1e-30)))
			}
		}
	}
	return sum / float64(max(rows, 1))
}

// toDist writes softmax(x) (or x, normalized, when probs) into p.
func toDist[T float32 | float64](x []T, p []float64, probs bool) {
	hi := math.Inf(-1)
	for _, v := range x {
		hi = math.Max(hi, float64(v))
	}
	var sum float64
	for i, v := range x {
		if probs {
			p[i] = math.Max(float64(v), 0)
		} else {
			p[i] = math.Exp(float64(v) - hi)
		}
		sum += p[i]
	}
	for i := range p {
		p[i] /= sum
	}
}

// RelL2 is |y - x| / |x| (|y - x| when x is zero).
func RelL2(x, y []float32) float64 {
	var num, den float64
	for i := range x {
		e := float64(y[i]) - float64(x[i])
		num += e * e
		den += float64(x[i]) * float64(x[i])
	}
	if den == 0 {
		return math.Sqrt(num)
	}
	return math.Sqrt(num / den)
}

// isProbabilities says whether every row of n values is non-negative and
// sums to 1 (within 1e-3).
func isProbabilities[T float32 | float64](x []T, n int) bool {
	for r := 0; r+n <= len(x); r += n {
		var sum float64
		for _, v := range x[r : r+n] {
			if v < 0 {
				return false
			}
			sum += float64(v)
		}
		if math.Abs(sum-1) > 1e-3 {
			return false
		}
	}
	return len(x) > 0
}
