package compress_test

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/embshrink/embshrink/fixtures"
	"github.com/embshrink/embshrink/internal/testkit"
	"github.com/embshrink/embshrink/learner"
	"github.com/embshrink/embshrink/onnxrewrite/compress"
	"github.com/embshrink/embshrink/onnxrewrite/model"
)

func loadFixture(t *testing.T, f fixtures.Fixture) *model.Model {
	t.Helper()
	return testkit.Load(t, testkit.Write(t, f))
}

func lmFixture(t testing.TB, name string) fixtures.Fixture {
	for _, f := range fixtures.LMs() {
		if f.Name == name {
			return f
		}
	}
	t.Fatalf("no LM fixture %q", name)
	return fixtures.Fixture{}
}

// Weights are base/|e|^2 up to one scale, with a mean of 1.
func TestRelativeWeights(t *testing.T) {
	table := []float32{3, 4, 0, 1, 0, 0, 1, 1}
	base := []float32{1, 2, 1, 4}
	w := compress.RelativeWeights(base, table, 2)
	raw := []float64{1.0 / 25, 2.0 / 1, 1 / (0.01 * 28.0 / 4), 4.0 / 2}
	var sum float64
	for _, r := range raw {
		sum += r
	}
	for i, r := range raw {
		if want := r * 4 / sum; math.Abs(float64(w[i])-want) > 1e-4*want {
			t.Errorf("row %d: weight %g, want %g", i, w[i], want)
		}
	}
}

// Compress learns an LM fixture's table in relative error, and says why;
// --metric euclidean turns it off; a model without a norm is unchanged.
func TestCompressRelativeLM(t *testing.T) {
	for _, c := range []struct {
		fixture, metric string
		want            bool
	}{{"lm_tied_rmsnorm", "auto", true}, {"lm_layernorm", "", true}, {"lm_tied_rmsnorm", "euclidean", false}} {
		m := loadFixture(t, lmFixture(t, c.fixture))
		rep, err := compress.Compress(context.Background(), m, compress.Options{M: 4, K: 16, Seed: 1, Metric: c.metric, Floor: compress.DefaultFloor})
		if err != nil {
			t.Fatal(err)
		}
		tr := rep.Tables[0]
		if tr.Relative != c.want || c.want && !strings.Contains(tr.Metric, "rows are read through") {
			t.Errorf("%s metric %q: relative %v (%s), want %v", c.fixture, c.metric, tr.Relative, tr.Metric, c.want)
		}
	}
	m := loadFixture(t, fixtures.All()[0])
	rep, err := compress.Compress(context.Background(), m, compress.Options{M: 2, K: 4, Seed: 1, Floor: compress.DefaultFloor})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Tables[0].Relative {
		t.Errorf("%s: relative weights (%s) in a model without norm or tied head", fixtures.All()[0].Name, rep.Tables[0].Metric)
	}
}

// On rows whose norms span two decades, relative weights lower the mean
// relative error |y-x|^2/|x|^2 well below what plain weights give.
func TestRelativeWeightsLowerRelativeError(t *testing.T) {
	const v, d = 256, 16
	rng := rand.New(rand.NewPCG(3, 4))
	table := make([]float32, v*d)
	for i := 0; i < v; i++ {
		s := math.Exp(math.Log(0.1) + rng.Float64()*math.Log(100))
		for j := 0; j < d; j++ {
			table[i*d+j] = float32(s * rng.NormFloat64())
		}
	}
	relErr := func(w []float32) float64 {
		res, err := learner.Learn(context.Background(), table, v, d, learner.Config{M: 4, K: 16, Seed: 1, Weights: w, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		var sum float64
		for i := 0; i < v; i++ {
			var e, n float64
			for j := 0; j < d; j++ {
				y := 0.0
				for mm := 0; mm < 4; mm++ {
					y += float64(res.Codebook[(mm*16+int(res.Codes[i*4+mm]))*d+j])
				}
				x := float64(table[i*d+j])
				e += (y - x) * (y - x)
				n += x * x
			}
			sum += e / n
		}
		return sum / v
	}
	plain, rel := relErr(nil), relErr(compress.RelativeWeights(nil, table, d))
	t.Logf("mean relative error: plain %.4f, relative weights %.4f", plain, rel)
	if rel > 0.7*plain {
		t.Errorf("relative weights: mean relative error %.4f, not well below plain %.4f", rel, plain)
	}
}
