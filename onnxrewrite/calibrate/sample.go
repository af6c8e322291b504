package calibrate

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/embshrink/embshrink/onnxrewrite/model"
	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// DefaultSampleLen is the length of sampled sequences, start token
// included.
const DefaultSampleLen = 48

// SampleOptions controls Sample.
type SampleOptions struct {
	// N sequences of Len ids (start token included; 0: DefaultSampleLen).
	N, Len int
	// BOS is the start token; negative: InferBOS.
	BOS int64
	// Seed makes the sequences reproducible.
	Seed int64
	// HeldOut draws from another random stream of the seed: sequences
	// apart from the calibration's, to measure a compressed model on.
	HeldOut bool
	// Table whose ids are predicted; "" for the largest.
	Table string
	// Progress, when set, hears of each forward pass (step of total).
	Progress func(step, total int)
}

// Samples are sequences drawn from a model.
type Samples struct {
	LM *LM
	// IDs is [N, Len] row-major; each row starts with BOS.
	IDs    []int64
	N, Len int
	BOS    int64
	// BOSFrom says where BOS came from ("--bos", metadata, or default).
	BOSFrom string
	// Passes is the number of forward passes run (Len-1, each over the
	// [N, t] batch of prefixes), Positions the token positions computed.
	Passes    int
	Positions int64
}

// SampleCost is what sampling n sequences of length l costs: l-1 forward
// passes over [n, t] batches, t = 1..l-1, n*l*(l-1)/2 positions in all;
// with a key/value cache, l-1 passes over [n, 1], n*(l-1) positions; with
// a fixed shape, l-1 passes over each chunk of Batch sequences (all when
// dynamic), their prefixes padded to SeqLen.
func (lm *LM) SampleCost(n, l int) (passes int, positions int64) {
	switch {
	case lm.Cache != nil:
		return l - 1, int64(n) * int64(l-1)
	case !lm.fixed():
		return l - 1, int64(n) * int64(l) * int64(l-1) / 2
	}
	b := n
	if lm.Batch > 0 {
		b = int(lm.Batch)
	}
	runs := (n + b - 1) / b
	return (l - 1) * runs, int64(runs*b) * int64(l-1) * lm.SeqLen
}

// fixed says the ids input has a fixed size, so sampling pads (stepFixed).
func (lm *LM) fixed() bool { return lm.Batch > 0 || lm.SeqLen > 0 }

// SampleLen is the length of the sequences sampled for a requested one (0:
// the default, DefaultSampleLen, or the ids input's fixed SeqLen, the only
// length its whole sequences can be counted at).
func (lm *LM) SampleLen(requested int) (int, error) {
	switch {
	case lm.SeqLen > 0 && requested != 0 && int64(requested) != lm.SeqLen:
		return 0, fmt.Errorf("sequence length %d: input %q is fixed at %d ids a sequence; leave the length to it", requested, lm.IDs, lm.SeqLen)
	case lm.SeqLen > 0:
		return int(lm.SeqLen), nil
	case requested == 0:
		return DefaultSampleLen, nil
	}
	return requested, nil
}

// Sample draws N sequences from a model that predicts the ids it reads
// (FindLM), running the file m was loaded from in ONNX Runtime: each step
// runs the [N, t] batch of prefixes and draws every sequence's next id from
// the softmax of its last position's scores (temperature 1). The session
// runs on one thread, so the same seed gives the same ids on any machine
// with the same runtime.
func Sample(rt *ort.Runtime, m *model.Model, opts SampleOptions) (*Samples, error) {
	if opts.N <= 0 {
		return nil, fmt.Errorf("%s: sample %d sequences: want at least 1", m.Path, opts.N)
	}
	lm, err := FindLM(m, opts.Table)
	if err != nil {
		return nil, err
	}
	if opts.Len, err = lm.SampleLen(opts.Len); err != nil {
		return nil, fmt.Errorf("%s: %w", m.Path, err)
	}
	if opts.Len < 2 {
		return nil, fmt.Errorf("%s: sequence length %d: want at least 2 (the start token and one sampled id)", m.Path, opts.Len)
	}
	s := &Samples{LM: lm, N: opts.N, Len: opts.Len, BOS: opts.BOS, BOSFrom: "--bos"}
	if s.BOS < 0 {
		if s.BOS, s.BOSFrom, err = InferBOS(m, lm.V); err != nil {
			return nil, err
		}
	} else if s.BOS >= lm.V {
		return nil, fmt.Errorf("%s: start token %d is outside the table's %d rows", m.Path, s.BOS, lm.V)
	}
	sess, err := rt.NewSession(m.Path, ort.SessionOptions{IntraOpThreads: 1})
	if err != nil {
		return nil, fmt.Errorf("%s: sampling: %w", m.Path, err)
	}
	defer sess.Close()
	s.IDs = make([]int64, s.N*s.Len)
	for i := 0; i < s.N; i++ {
		s.IDs[i*s.Len] = s.BOS
	}
	stream := uint64(0x5a4d91e)
	if opts.HeldOut {
		stream = 0x4e1d0a7
	}
	rng := rand.New(rand.NewPCG(uint64(opts.Seed), stream))
	s.Passes, s.Positions = lm.SampleCost(s.N, s.Len)
	var past map[string]ort.HostTensor
	for t := 1; t < s.Len; t++ {
		switch {
		case lm.Cache != nil:
			past, err = s.stepCached(sess, t, past, rng)
		case lm.fixed():
			err = s.stepFixed(sess, t, rng)
		default:
			err = s.step(sess, t, rng)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: sampling step %d: %w", m.Path, t, err)
		}
		if opts.Progress != nil {
			opts.Progress(t, s.Len-1)
		}
	}
	return s, nil
}

// step runs the prefixes of length t and draws id t of every sequence.
func (s *Samples) step(sess *ort.Session, t int, rng *rand.Rand) error {
	feed, err := s.LM.Feed(s.Prefix(0, s.N, t), s.N, t)
	if err != nil {
		return err
	}
	out, err := sess.Run(feed)
	if err != nil {
		return err
	}
	return s.draw(out, t, t, rng)
}

// stepCached runs id t-1 of every sequence with the cache of the steps
// before (past; nil at t = 1), draws id t, and returns the new cache.
func (s *Samples) stepCached(sess *ort.Session, t int, past map[string]ort.HostTensor, rng *rand.Rand) (map[string]ort.HostTensor, error) {
	last := make([]int64, s.N)
	for i := range last {
		last[i] = s.IDs[i*s.Len+t-1]
	}
	feed, err := s.LM.stepFeed(last, s.N, t-1, past)
	if err != nil {
		return nil, err
	}
	out, err := sess.Run(feed)
	if err != nil {
		return nil, err
	}
	return out, s.draw(out, t, 1, rng)
}

// draw draws id t of every sequence from the last of the seq positions
// the model's scores output has.
func (s *Samples) draw(out map[string]ort.HostTensor, t, seq int, rng *rand.Rand) error {
	return s.drawRows(out, t, 0, s.N, s.N, seq, seq-1, rng)
}

// drawRows draws id t of sequences lo..hi-1 from position pos of the
// model's scores output for a batch of b rows (sequence lo first) of seq
// positions.
func (s *Samples) drawRows(out map[string]ort.HostTensor, t, lo, hi, b, seq, pos int, rng *rand.Rand) error {
	res, ok := out[s.LM.Output]
	if !ok {
		return fmt.Errorf("no output %q", s.LM.Output)
	}
	scores, ok := res.Data.([]float32)
	v := int(s.LM.V)
	if !ok || len(res.Shape) != 3 || res.Shape[0] != int64(b) || res.Shape[1] != int64(seq) || res.Shape[2] != s.LM.V {
		return fmt.Errorf("output %q is %T %v, want float32 [%d, %d, %d]", s.LM.Output, res.Data, res.Shape, b, seq, v)
	}
	for i := lo; i < hi; i++ {
		r := (i-lo)*seq + pos
		s.IDs[i*s.Len+t] = int64(drawSoftmax(scores[r*v:(r+1)*v], rng.Float64()))
	}
	return nil
}

// drawSoftmax returns the index whose softmax cumulative share first
// exceeds u in [0, 1).
func drawSoftmax(scores []float32, u float64) int {
	hi := math.Inf(-1)
	for _, x := range scores {
		hi = math.Max(hi, float64(x))
	}
	var sum float64
	for _, x := range scores {
		sum += math.Exp(float64(x) - hi)
	}
	target, cum := u*sum, 0.0
	for i, x := range scores {
		cum += math.Exp(float64(x) - hi)
		if cum > target {
			return i
		}
	}
	return len(scores) - 1
}

// Prefix returns the first t ids of sequences [from, to), [to-from, t].
func (s *Samples) Prefix(from, to, t int) []int64 {
	ids := make([]int64, 0, (to-from)*t)
	for i := from; i < to; i++ {
		ids = append(ids, s.IDs[i*s.Len:i*s.Len+t]...)
	}
	return ids
}

// Inputs are the model inputs that feed sequences [from, to) whole.
func (s *Samples) Inputs(from, to int) (map[string]ort.HostTensor, error) {
	return s.LM.Feed(s.Prefix(from, to, s.Len), to-from, s.Len)
}

// AddCounts adds src's counts to dst's, table by table.
func AddCounts(dst, src map[string][]int64) map[string][]int64 {
	if dst == nil {
		dst = map[string][]int64{}
	}
	for name, c := range src {
		d, ok := dst[name]
		if !ok {
			dst[name] = append([]int64(nil), c...)
			continue
		}
		for i := range d {
			if i < len(c) {
				d[i] += c[i]
			}
		}
	}
	return dst
}
