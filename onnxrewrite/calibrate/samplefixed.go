package calibrate

import (
	"math/rand/v2"

	"github.com/embshrink/embshrink/onnxrewrite/ort"
)

// stepFixed draws id t of every sequence for a model whose ids input has a
// fixed size: the sequences run Batch at a time (all at once when the
// batch is dynamic; the last chunk filled with start tokens), their
// prefixes of t ids padded with the start token to SeqLen (t when the
// length is dynamic), and id t drawn from position t-1. A model that
// predicts the ids it reads attends only to earlier positions, so the
// padding changes none of the scores drawn from. The draws are in the
// order of step's, sequence by sequence.
func (s *Samples) stepFixed(sess *ort.Session, t int, rng *rand.Rand) error {
	b, seq := s.N, t
	if s.LM.Batch > 0 {
		b = int(s.LM.Batch)
	}
	if s.LM.SeqLen > 0 {
		seq = int(s.LM.SeqLen)
	}
	for lo := 0; lo < s.N; lo += b {
		hi := min(lo+b, s.N)
		ids := make([]int64, b*seq)
		for j := range ids {
			ids[j] = s.BOS
		}
		for i := lo; i < hi; i++ {
			copy(ids[(i-lo)*seq:], s.IDs[i*s.Len:i*s.Len+t])
		}
		feed, err := s.LM.Feed(ids, b, seq)
		if err != nil {
			return err
		}
		out, err := sess.Run(feed)
		if err != nil {
			return err
		}
		if err := s.drawRows(out, t, lo, hi, b, seq, t-1, rng); err != nil {
			return err
		}
	}
	return nil
}
