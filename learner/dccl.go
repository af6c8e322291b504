package learner

import (
	"context"
	"errors"
)

func learnDCCL(ctx context.Context, data []float32, V, D int, cfg Config) ([]uint16, []float32, error) {
	return nil, nil, errors.New("not implemented")
}
