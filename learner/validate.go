package learner

import (
	"errors"
	"fmt"
	"math"
)

// validate checks the table, the code shape and the weights.
func validate(data []float32, V, D int, cfg Config) error {
	if V < 1 || D < 1 || len(data) == 0 {
		return fmt.Errorf("empty table (V=%d, D=%d, %d values)", V, D, len(data))
	}
	if D < 2 {
		return fmt.Errorf("table must be 2-D with at least 2 columns, got D=%d", D)
	}
	if len(data) != V*D {
		return fmt.Errorf("table has %d values, want V*D = %d*%d = %d", len(data), V, D, V*D)
	}
	for i := 0; i < V; i++ {
		for j, v := range data[i*D : (i+1)*D] {
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("table row %d column %d is %v", i, j, v)
			}
		}
	}
	if cfg.M < 1 {
		return fmt.Errorf("M must be >= 1, got %d", cfg.M)
	}
	if cfg.K < 2 || cfg.K > 65536 {
		return fmt.Errorf("K must be in [2, 65536], got %d", cfg.K)
	}
	if cfg.Weights != nil {
		if len(cfg.Weights) != V {
			return fmt.Errorf("weights have length %d, want one per row (%d)", len(cfg.Weights), V)
		}
		pos := false
		for i, w := range cfg.Weights {
			f := float64(w)
			if math.IsNaN(f) || math.IsInf(f, 0) || w < 0 {
				return fmt.Errorf("weight of row %d is %v, want a finite value >= 0", i, w)
			}
			if w > 0 {
				pos = true
			}
		}
		if !pos {
			return errors.New("all weights are zero")
		}
	}
	switch cfg.Method {
	case "", MethodAQ, MethodDCCL:
	default:
		return fmt.Errorf("unknown method %q (want %q or %q)", cfg.Method, MethodAQ, MethodDCCL)
	}
	if cfg.Threads < 0 {
		return fmt.Errorf("threads must be >= 0, got %d", cfg.Threads)
	}
	switch cfg.CodebookDType {
	case "", DTypeFloat32, DTypeFloat16, DTypeBFloat16:
	default:
		return fmt.Errorf("unknown codebook dtype %q (want %q, %q or %q)", cfg.CodebookDType, DTypeFloat32, DTypeFloat16, DTypeBFloat16)
	}
	if math.IsNaN(cfg.TargetError) || cfg.TargetError < 0 {
		return fmt.Errorf("target error must be >= 0, got %v", cfg.TargetError)
	}
	if math.IsNaN(cfg.Anneal) || math.IsInf(cfg.Anneal, 0) {
		return fmt.Errorf("anneal must be finite, got %v", cfg.Anneal)
	}
	if cfg.TimeLimit < 0 || cfg.TimeBudget < 0 {
		return fmt.Errorf("time limit must be >= 0, got %v", cfg.timeLimit())
	}
	return nil
}
