package learner

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/blas32"
)

// Paper defaults (Shu & Nakayama 2018 and their reference trainer).
const (
	defaultLR       = 1e-4
	defaultBatch    = 64
	defaultTau      = 1.0
	defaultEpochs   = 200
	defaultValFrac  = 0.01
	maxValRows      = 2000
	defaultClipNorm = 0.001 // global gradient norm clip of the reference trainer
	adamBeta1       = 0.9
	adamBeta2       = 0.999
	adamEps         = 1e-8
)

// dcclEncode computes argmax codes for rows [lo, hi) of data with parameters
// ps = {W1, b1, W2, b2, A}. argmax of log(softplus(z)) equals argmax of z.
func dcclEncode(data []float32, D, H, M, K int, ps [][]float32, rows []int, codes []uint16) {
	MK := M * K
	const chunk = 256
	xb := make([]float32, chunk*D)
	hb := make([]float32, chunk*H)
	zb := make([]float32, chunk*MK)
	W1 := blas32.General{Rows: D, Cols: H, Stride: H, Data: ps[0]}
	W2 := blas32.General{Rows: H, Cols: MK, Stride: MK, Data: ps[2]}
	for lo := 0; lo < len(rows); lo += chunk {
		hi := min(lo+chunk, len(rows))
		n := hi - lo
		for r := 0; r < n; r++ {
			i := rows[lo+r]
			copy(xb[r*D:(r+1)*D], data[i*D:(i+1)*D])
		}
		xs := blas32.General{Rows: n, Cols: D, Stride: D, Data: xb[:n*D]}
		hs := blas32.General{Rows: n, Cols: H, Stride: H, Data: hb[:n*H]}
		zs := blas32.General{Rows: n, Cols: MK, Stride: MK, Data: zb[:n*MK]}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, xs, W1, 0, hs)
		for r := 0; r < n; r++ {
			hr := hb[r*H : (r+1)*H]
			for j := range hr {
				hr[j] = float32(math.Tanh(float64(hr[j] + ps[1][j])))
			}
		}
		blas32.Gemm(blas.NoTrans, blas.NoTrans, 1, hs, W2, 0, zs)
		for r := 0; r < n; r++ {
			zr := zb[r*MK : (r+1)*MK]
			for m := 0; m < M; m++ {
				best, bk := float32(math.Inf(-1)), 0
				for k := 0; k < K; k++ {
					if v := zr[m*K+k] + ps[3][m*K+k]; v > best {
						best, bk = v, k
					}
				}
				codes[(lo+r)*M+m] = uint16(bk)
			}
		}
	}
}

// dcclShards is the number of graphs a batch is split across, whose
// gradients are summed in a fixed order: they run in parallel when Threads
// allows, and the result does not depend on Threads. Batches of less than
// dcclShardFlops multiply-adds per pass stay on one graph, where the
// goroutines would cost more than they save.
const (
	dcclShards     = 2
	dcclShardFlops = 1 << 20
)

// dcclTrainer holds the training state of the network.
type dcclTrainer struct {
	sh        dcclShape
	data      []float32
	weights   []float32 // nil: all 1
	lr, clip  float64
	B         int
	threads   int
	rng       *rand.Rand
	ps        [][]float32 // W1, b1, W2, b2, A
	nets      []*dcclNet  // one per shard of a batch
	opt       *adam
	sum       [][]float32 // the batch's gradients, summed over shards
	noise     []float64   // uniform draws for a batch's Gumbel noise [B*M, K]
	t         int         // Adam steps taken
	val       []int
	valCodes  []uint16
	best      [][]float32 // parameters with the lowest validation error
	bestErr   float64
	progress  func(Progress)
	epochs    int
	stepsPerE int
}

func (tr *dcclTrainer) weight(i int) float32 {
	if tr.weights == nil {
		return 1
	}
	return tr.weights[i]
}

// splitRows returns the rows that carry weight, shuffled by rng, split into
// training and validation rows.
func splitRows(V int, weights []float32, valFrac float64, rng *rand.Rand) (train, val []int) {
	var active []int
	for i := 0; i < V; i++ {
		if weights == nil || weights[i] > 0 {
			active = append(active, i)
		}
	}
	rng.Shuffle(len(active), func(a, b int) { active[a], active[b] = active[b], active[a] })
	nVal := int(math.Round(float64(len(active)) * valFrac))
	nVal = max(1, min(nVal, maxValRows))
	if len(active) < 4 {
		return active, active
	}
	nVal = min(nVal, len(active)/2)
	return active[nVal:], active[:nVal]
}

// newDCCLTrainer initialises the parameters (small uniform Glorot weights,
// zero biases) and builds one graph per shard.
func newDCCLTrainer(data []float32, sh dcclShape, B int, cfg Config, rng *rand.Rand) (*dcclTrainer, error) {
	D, H, MK := sh.D, sh.H, sh.M*sh.K
	tr := &dcclTrainer{sh: sh, data: data, weights: cfg.Weights, B: B, threads: cfg.Threads, rng: rng,
		lr: orDefaultF(cfg.LR, defaultLR), clip: orDefaultF(cfg.ClipNorm, defaultClipNorm),
		noise: make([]float64, B*MK), progress: cfg.Progress}
	if tr.progress == nil {
		tr.progress = func(Progress) {}
	}
	for _, p := range []struct {
		rows, cols int
		limit      float64
	}{{D, H, math.Sqrt(6 / float64(D+H))}, {1, H, 0}, {H, MK, math.Sqrt(6 / float64(H+MK))}, {1, MK, 0},
		{MK, D, math.Sqrt(6 / float64(MK+D))}} {
		v := make([]float32, p.rows*p.cols)
		for i := range v {
			v[i] = float32((rng.Float64()*2 - 1) * p.limit)
		}
		tr.ps = append(tr.ps, v)
		tr.sum = append(tr.sum, make([]float32, len(v)))
	}
	tr.opt = newAdam(tr.ps)
	shards := min(dcclShards, B)
	if B*(D*H+H*MK+MK*D) < dcclShardFlops {
		shards = 1
	}
	for s := 0; s < shards; s++ {
		n, err := newDCCLNet(B*(s+1)/shards-B*s/shards, sh, tr.ps, 0.5/float64(B))
		if err != nil {
			tr.close()
			return nil, err
		}
		tr.nets = append(tr.nets, n)
	}
	return tr, nil
}

func (tr *dcclTrainer) close() {
	for _, n := range tr.nets {
		n.vm.Close()
	}
}

// step trains on the batch of the given rows: Gumbel noise for the whole
// batch from one stream, every shard's forward and backward pass, the
// gradients summed shard by shard, one Adam update. It returns the loss.
func (tr *dcclTrainer) step(rows []int) (float64, error) {
	// The uniforms come from the one stream in order; each shard turns its
	// own into Gumbel noise.
	for j := range tr.noise {
		u := tr.rng.Float64()
		for u == 0 {
			u = tr.rng.Float64()
		}
		tr.noise[j] = u
	}
	D, MK := tr.sh.D, tr.sh.M*tr.sh.K
	lo := 0
	for _, n := range tr.nets {
		for r := 0; r < n.B; r++ {
			i := rows[lo+r]
			copy(n.xBuf[r*D:(r+1)*D], tr.data[i*D:(i+1)*D])
			n.wBuf[r] = tr.weight(i)
		}
		n.uniform = tr.noise[lo*MK : (lo+n.B)*MK]
		lo += n.B
	}
	losses := make([]float64, len(tr.nets))
	errs := make([]error, len(tr.nets))
	if tr.threads > 1 && len(tr.nets) > 1 {
		var wg sync.WaitGroup
		for s, n := range tr.nets {
			wg.Add(1)
			go func() { defer wg.Done(); losses[s], errs[s] = n.run() }()
		}
		wg.Wait()
	} else {
		for s, n := range tr.nets {
			losses[s], errs[s] = n.run()
		}
	}
	var loss float64
	for s, n := range tr.nets {
		if errs[s] != nil {
			return 0, errs[s]
		}
		loss += losses[s]
		for i, g := range n.gData {
			if s == 0 {
				copy(tr.sum[i], g)
				continue
			}
			for j, v := range g {
				tr.sum[i][j] += v
			}
		}
	}
	tr.t++
	tr.opt.update(tr.t, tr.lr, tr.clip, tr.ps, tr.sum)
	return loss, nil
}

// validate measures the current parameters on the held-out rows and keeps
// them if they are the best so far.
func (tr *dcclTrainer) validate() {
	sh := tr.sh
	D, M, K := sh.D, sh.M, sh.K
	dcclEncode(tr.data, D, sh.H, M, K, tr.ps, tr.val, tr.valCodes)
	A := tr.ps[4]
	var num, den float64
	for r, i := range tr.val {
		x := tr.data[i*D : (i+1)*D]
		var e, nx float64
		for j := 0; j < D; j++ {
			var y float32
			for m := 0; m < M; m++ {
				y += A[(m*K+int(tr.valCodes[r*M+m]))*D+j]
			}
			d := float64(y - x[j])
			e += d * d
			nx += float64(x[j]) * float64(x[j])
		}
		num += float64(tr.weight(i)) * e
		den += float64(tr.weight(i)) * nx
	}
	if e := ratio(num, den); tr.best == nil || e < tr.bestErr {
		tr.bestErr = e
		if tr.best == nil {
			tr.best = make([][]float32, len(tr.ps))
		}
		for i, p := range tr.ps {
			tr.best[i] = append(tr.best[i][:0], p...)
		}
	}
}

// epoch trains one pass over the shuffled training rows in order.
func (tr *dcclTrainer) epoch(ctx context.Context, ep int, order []int) error {
	tr.rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
	var run float64
	for s := 0; s < tr.stepsPerE; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		l, err := tr.step(order[s*tr.B : (s+1)*tr.B])
		if err != nil {
			return fmt.Errorf("epoch %d step %d: %w", ep, s+1, err)
		}
		if math.IsNaN(l) {
			return fmt.Errorf("epoch %d step %d: loss is NaN", ep, s+1)
		}
		run += l
		if (s+1)%100 == 0 {
			tr.progress(Progress{Phase: "train", Step: (ep-1)*tr.stepsPerE + s + 1, Total: tr.epochs * tr.stepsPerE, Loss: run / float64(s+1)})
		}
	}
	return nil
}

// learnDCCL trains the paper's Gumbel-softmax autoencoder and returns argmax
// codes and the decoder matrix of the best parameters on a held-out slice.
func learnDCCL(st *stopper, data []float32, V, D int, cfg Config) (learned, error) {
	sh := dcclShape{D: D, H: cfg.Hidden, M: cfg.M, K: cfg.K, tau: orDefaultF(cfg.Tau, defaultTau)}
	if sh.H <= 0 {
		sh.H = max(cfg.M*cfg.K/2, 1)
	}
	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xdcc1))
	train, val := splitRows(V, cfg.Weights, orDefaultF(cfg.ValFraction, defaultValFrac), rng)
	B := min(orDefault(cfg.Batch, defaultBatch), len(train))
	tr, err := newDCCLTrainer(data, sh, B, cfg, rng)
	if err != nil {
		return learned{}, err
	}
	defer tr.close()
	tr.val, tr.valCodes = val, make([]uint16, len(val)*cfg.M)
	tr.epochs = orDefault(cfg.Epochs, defaultEpochs)
	tr.stepsPerE = len(train) / B
	tr.validate()
	tr.progress(Progress{Phase: "validate", Step: 0, Total: tr.epochs, Loss: tr.bestErr})
	stopped := "completed " + counted(tr.epochs, "epoch")
	order := append([]int(nil), train...)
	for ep := 1; ep <= tr.epochs; ep++ {
		err := tr.epoch(st.ctx, ep, order)
		if err != nil && !st.timedOut(err) {
			return learned{}, err
		}
		tr.validate()
		tr.progress(Progress{Phase: "validate", Step: ep, Total: tr.epochs, Loss: tr.bestErr})
		if err != nil {
			stopped = st.limitMsg()
			break
		}
		if st.reached(tr.bestErr) {
			stopped = st.targetMsg()
			break
		}
	}
	codes := make([]uint16, V*cfg.M)
	all := make([]int, V)
	for i := range all {
		all[i] = i
	}
	dcclEncode(data, D, sh.H, cfg.M, cfg.K, tr.best, all, codes)
	return learned{codes, tr.best[4], stopped}, nil
}
