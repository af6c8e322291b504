// Package learner learns compositional codes for an embedding table: it is
// the numerical core of embshrink, which replaces a model's embedding table
// by codes and a small codebook. It works on plain float32 matrices and must
// not import anything that knows ONNX (the onnxrewrite packages call it, not
// the other way round).
//
// Given a float32 matrix E of shape [V, D] it finds, for every row i, M code
// indices in [0, K) and a shared codebook A of shape [M*K, D] such that
//
//	E[i] ≈ sum_m A[m*K + codes[i*M+m]]
//
// minimising sum_i w_i ||y_i - x_i||^2 for optional non-negative row weights.
// Two methods are provided: the default additive quantiser (residual k-means
// initialisation followed by alternating least-squares codebook refits and
// ICM re-encoding with perturbation restarts) and "dccl", the Gumbel-softmax
// autoencoder of Shu & Nakayama, "Compressing Word Embeddings via Deep
// Compositional Code Learning" (ICLR 2018), trained with gorgonia.
//
// Learning is scale-invariant: the table is divided by the power of two
// nearest its root mean square before learning and the codebook multiplied
// back, so a table times 2^k gives the same codes (and any scale the same
// relative error) as long as the codebook is representable.
//
// Results are deterministic for a given seed and independent of the number of
// threads used (unless Config.TimeLimit stops learning).
package learner

import (
	"context"
	"fmt"
	"runtime"
	"time"

	"github.com/embshrink/embshrink/learner/codes"
)

// Method names accepted in Config.Method.
const (
	// MethodAQ is the default additive quantiser (also selected by "").
	MethodAQ = "aq"
	// MethodDCCL is the paper's Gumbel-softmax code learning network.
	MethodDCCL = "dccl"
)

// Progress reports training progress to an optional callback.
type Progress struct {
	// Phase names the current stage: "init" and "refine" (aq), "train" and
	// "validate" (dccl), "round" (the CodebookDType step).
	Phase string
	// Step and Total count progress within the phase (Total may be 0 when
	// unknown).
	Step, Total int
	// Loss is the current relative squared error (weighted) when known,
	// otherwise the method's own training loss.
	Loss float64
}

// Result holds the learned codes and codebook.
type Result struct {
	V, D, M, K int
	// Codes is [V, M] row-major; every value is in [0, K).
	Codes []uint16
	// Codebook is [M*K, D] row-major; codeword k of codebook m is row m*K+k.
	// With Config.CodebookDType float16 or bfloat16 every value is exactly
	// representable in that type.
	Codebook []float32
	// Metrics evaluates the result on the full table.
	Metrics Metrics
	// Elapsed is the wall time spent in Learn.
	Elapsed time.Duration
	// Stopped says why learning stopped: "completed 16 rounds" or
	// "completed 200 epochs", "completed 58 rounds, fitted to the time
	// limit 15s (128 without it)" (with "(the last of 3 restarts)" after
	// "rounds" when the last round had fewer), "converged", "target error
	// 0.15 reached" or "time limit 30s".
	Stopped string
}

// Learn learns codes and a codebook for the [V, D] row-major table data.
// It returns an error for invalid input or when ctx is cancelled.
func Learn(ctx context.Context, data []float32, V, D int, cfg Config) (*Result, error) {
	start := time.Now()
	if err := validate(data, V, D, cfg); err != nil {
		return nil, fmt.Errorf("learner: %w", err)
	}
	if cfg.Threads <= 0 {
		cfg.Threads = runtime.GOMAXPROCS(0)
	}
	sc := newScaling(data, cfg.ScaleInPlace)
	defer sc.restore()
	st := newStopper(ctx, cfg, start)
	defer st.cancel()
	var (
		out learned
		err error
	)
	switch {
	case sc.zero:
		out = learned{make([]uint16, V*cfg.M), make([]float32, cfg.M*cfg.K*D), "all-zero table"}
	case cfg.Method == "" || cfg.Method == MethodAQ:
		out, err = learnAQ(st, sc.x, V, D, cfg)
	case cfg.Method == MethodDCCL:
		out, err = learnDCCL(st, sc.x, V, D, cfg)
	}
	if err == nil && isRounded(cfg.CodebookDType) {
		err = roundCodebook(ctx, sc, &out, V, D, cfg)
	}
	if err != nil {
		return nil, fmt.Errorf("learner: method %q: %w", methodName(cfg.Method), err)
	}
	codebook, err := sc.unscale(out.codebook)
	if err != nil {
		return nil, fmt.Errorf("learner: %w", err)
	}
	sc.restore()
	res := &Result{V: V, D: D, M: cfg.M, K: cfg.K, Codes: out.codes, Codebook: codebook, Stopped: out.stopped}
	res.Metrics = measure(data, V, D, Encoded{M: cfg.M, K: cfg.K, Codes: out.codes, Codebook: codebook}, cfg.Weights, cfg.Threads)
	if isRounded(cfg.CodebookDType) { // stored in two bytes a value
		mt := &res.Metrics
		mt.CodebookBytes /= 2
		mt.Ratio = float64(int64(V)*int64(D)*4) / float64(max(mt.CodeBytes+mt.CodebookBytes, 1))
	}
	res.Elapsed = time.Since(start)
	return res, nil
}

// learned is what a method returns: codes, the codebook (on the scaled
// table) and why it stopped.
type learned struct {
	codes    []uint16
	codebook []float32
	stopped  string
}

func methodName(m string) string {
	if m == "" {
		return MethodAQ
	}
	return m
}

// Reconstruct writes the decoded [V, D] table for codes and codebook: the
// sum, in float32 and in group order, that codes.Decode (and a rewritten
// model) computes.
func Reconstruct(cs []uint16, codebook []float32, V, D, M, K int) []float32 {
	return codes.Decode(codes.Codes{Rows: V, M: M, K: K, Data: cs}, codes.Codebook{M: M, K: K, D: D, Data: codebook})
}
