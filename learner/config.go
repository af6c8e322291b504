package learner

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"math"
	"time"
)

// Codebook storage types accepted in Config.CodebookDType.
const (
	DTypeFloat32  = "float32"
	DTypeFloat16  = "float16"
	DTypeBFloat16 = "bfloat16"
)

// Config selects the code shape, the method and its knobs. The zero value of
// every knob means "use the default".
type Config struct {
	// M is the number of codebooks (codes per row), K the codebook size.
	M, K int
	// Method is "" or "aq" for the default additive quantiser, "dccl" for
	// the paper's network.
	Method string
	// Seed makes the result reproducible: same seed, same bytes.
	Seed int64
	// Weights holds one non-negative weight per row; nil means all 1.
	Weights []float32
	// Threads bounds parallelism; 0 means runtime.GOMAXPROCS(0). The result
	// does not depend on it: work is split into fixed pieces whatever the
	// count. (dccl splits large batches across two graphs, run in parallel
	// when Threads > 1, whose gradients are summed in a fixed order; the
	// matrix products inside gorgonia use GOMAXPROCS goroutines with a fixed
	// partition.)
	Threads int
	// Progress, when set, is called from a single goroutine.
	Progress func(p Progress)
	// ScaleInPlace lets Learn scale data in place while it works (by a
	// power of two, when every value comes back exactly; otherwise it
	// copies, as without it), which spares a copy of the table: data holds
	// its own values again when Learn returns, but must not be read or
	// written meanwhile. It does not change the result.
	ScaleInPlace bool

	// TargetError stops learning as soon as the weighted relative squared
	// error reaches it (for dccl: the error on the held-out rows, checked
	// after every epoch); 0 means no target. Result.Stopped says so.
	TargetError float64
	// TimeLimit stops learning once it has run this long and returns the
	// best codes found until then; 0 means no limit. With the default
	// Iterations, aq fits its rounds to the limit (the pace of those done
	// sets how many more end in the time left) so that their annealing noise
	// decays before it (figures in learner/timefit.go), and keeps time in it
	// for a final CodebookDType step and for ReencodeAfter's pass; otherwise
	// those run after it. With a limit the result depends on the machine's
	// speed.
	TimeLimit time.Duration
	// ReencodeAfter says the caller encodes the rows once more after Learn
	// returns (Reencode, as compress does against a codebook it rounded
	// itself), so that a time limit keeps time for that pass.
	ReencodeAfter bool
	// CodebookDType is the type the codebook will be stored in: "" or
	// "float32", or "float16" or "bfloat16", in which case the learner rounds
	// the codebook to it (round to nearest, ties to even), re-encodes the
	// codes against the rounded values and tries one more refit, so that
	// Result.Codebook holds exactly representable values and Result.Metrics
	// measure what will be stored.
	CodebookDType string

	// Iterations is the number of AQ refinement rounds (codebook refit +
	// re-encoding). Default 128 for tables of up to 6,553,600 values (65,536
	// rows of 100), then 128*6553600/(V*D), at least 28.
	Iterations int
	// ICMSweeps is the number of ICM sweeps per encoding pass. Default 4.
	ICMSweeps int
	// Restarts is the number of perturbation restarts per row and round
	// (LSQ++-style iterated local search). Default 2 for tables of up to
	// 6,553,600 values, rising to 8 as the rounds fall to 28 (12 for a single
	// re-encoding pass, after rounding the codebook); negative means none.
	// Many rounds of few restarts beat few of many at the same time: the
	// figures are in learner/aq.go, above defaultSchedule.
	Restarts int
	// Perturb is the number of codes re-drawn at random per restart.
	// Default max(2, (M+2)/5): 6 for 32 codebooks.
	Perturb int
	// KMeansIters is the number of Lloyd iterations per residual stage of
	// the AQ initialisation. Default 8.
	KMeansIters int
	// KMeansTrials is the number of k-means++ seedings tried per stage of
	// the initialisation (the best is kept). Default 8 for small tables
	// (N*K*D*(KMeansIters+1) < 2e7, N the rows k-means trains on: all, or
	// a uniform sample of max(256*K, 65536) of larger tables) and for
	// weighted ones below 1e9; otherwise 1, whose seeding is greedy
	// k-means++ on an unweighted table.
	KMeansTrials int
	// Ridge is the ridge term λ added to the normal equations of the
	// codebook refit, relative to the mean diagonal. Default 1e-6.
	Ridge float64

	// Anneal scales the noise added to the codebook after each refit except
	// the last (stochastic relaxation, as in LSQ++; the noise decays as
	// sqrt(1-t/T)). Default 0.45 for tables of up to 6,553,600 values, falling
	// to 0.3 as the rounds fall to 28; negative means off. On GloVe 100-d,
	// first 50,000 rows, 32x16, 64 rounds of 3 restarts: 0.1507 at 0.2,
	// 0.1493 at 0.3, 0.1491 at 0.45 (10,000 rows, 16 rounds of 12
	// restarts: 0.1072 off, 0.1051 at 0.3, 0.1079 at 0.6).
	Anneal float64

	// LR is the DCCL Adam learning rate. Default 1e-4 (paper).
	LR float64
	// Batch is the DCCL mini-batch size. Default 64 (paper).
	Batch int
	// Tau is the Gumbel-softmax temperature. Default 1 (paper).
	Tau float64
	// Epochs is the maximum number of DCCL epochs. Default 200 (paper).
	Epochs int
	// TimeBudget is the former name of TimeLimit, kept for callers: when
	// TimeLimit is 0 it acts as TimeLimit (for both methods).
	//
	// Deprecated: use TimeLimit.
	TimeBudget time.Duration
	// ValFraction is the fraction of rows held out for DCCL model
	// selection. Default 0.01 (at least 1 row, at most 2000 rows).
	ValFraction float64
	// ClipNorm is the DCCL gradient clipping threshold on the global L2
	// norm of all gradients. Default 0.001 (the reference trainer's value).
	ClipNorm float64
	// Hidden overrides the DCCL hidden width (default M*K/2).
	Hidden int
}

// keyVersion names the learner's algorithms: it changes whenever a change
// makes the same Config give different bytes, so cached results keyed by
// Config.Key are not reused across such changes (12 named a build that was
// reverted, and is not reused).
const keyVersion = "embshrink-learner-21"

// Key returns a hex digest of every setting that affects the learned codes
// and codebook, for caching results: equal keys (and equal tables) give the
// same result. It covers every field except Threads (results do not depend
// on it) and Progress; Weights count by value, and unset knobs count as their
// defaults only as written (0 and the default value give different keys).
// A test fails when a field is added to Config and not considered here.
func (c Config) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\nM=%d K=%d method=%s seed=%d\n", keyVersion, c.M, c.K, methodName(c.Method), c.Seed)
	hashWeights(h, c.Weights)
	fmt.Fprintf(h, "target=%v limit=%d dtype=%s\n", c.TargetError, int64(c.timeLimit()), c.CodebookDType)
	if c.timeLimit() > 0 && c.ReencodeAfter { // it changes nothing without a limit
		fmt.Fprint(h, "reencode-after\n")
	}
	fmt.Fprintf(h, "aq: iters=%d sweeps=%d restarts=%d perturb=%d kmi=%d trials=%d ridge=%v anneal=%v\n",
		c.Iterations, c.ICMSweeps, c.Restarts, c.Perturb, c.KMeansIters, c.KMeansTrials, c.Ridge, c.Anneal)
	fmt.Fprintf(h, "dccl: lr=%v batch=%d tau=%v epochs=%d val=%v clip=%v hidden=%d\n",
		c.LR, c.Batch, c.Tau, c.Epochs, c.ValFraction, c.ClipNorm, c.Hidden)
	return hex.EncodeToString(h.Sum(nil))
}

func hashWeights(h hash.Hash, w []float32) {
	if w == nil {
		fmt.Fprint(h, "weights=none\n")
		return
	}
	fmt.Fprintf(h, "weights=%d\n", len(w))
	buf := make([]byte, 0, 4096)
	for i, v := range w {
		buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		if len(buf) == cap(buf) || i == len(w)-1 {
			h.Write(buf)
			buf = buf[:0]
		}
	}
}

// timeLimit folds the deprecated TimeBudget into TimeLimit.
func (c Config) timeLimit() time.Duration {
	if c.TimeLimit > 0 {
		return c.TimeLimit
	}
	return c.TimeBudget
}
