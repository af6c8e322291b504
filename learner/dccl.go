package learner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"

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

// dcclNet is the compiled gorgonia graph and its reusable buffers.
type dcclNet struct {
	B, D, H, M, K int
	g             *G.ExprGraph
	vm            G.VM
	xBuf, wBuf    []float32 // batch input and row weights, fed in place
	gBuf          []float32 // Gumbel noise [B*M, K], fed in place
	params        []*G.Node // W1, b1, W2, b2, A
	grads         G.Nodes
	loss          *G.Node
	pData         [][]float32 // backing arrays of params
	gData         [][]float32 // gradient arrays, looked up once per step
	adamM, adamV  [][]float32
}

// newDCCLNet builds the graph once: h = tanh(x W1 + b1),
// a = log(softplus(h W2 + b2)), d = softmax((a + g)/tau) per group of K,
// y = d A, loss = 0.5/B * sum_i w_i ||y_i - x_i||^2.
func newDCCLNet(B, D, H, M, K int, tau float64, rng *rand.Rand) (*dcclNet, error) {
	n := &dcclNet{B: B, D: D, H: H, M: M, K: K, g: G.NewGraph()}
	g := n.g
	MK := M * K
	n.xBuf = make([]float32, B*D)
	n.wBuf = make([]float32, B)
	n.gBuf = make([]float32, B*MK)
	x := G.NewMatrix(g, tensor.Float32, G.WithShape(B, D), G.WithName("x"),
		G.WithValue(tensor.New(tensor.WithShape(B, D), tensor.WithBacking(n.xBuf))))
	w := G.NewVector(g, tensor.Float32, G.WithShape(B), G.WithName("w"),
		G.WithValue(tensor.New(tensor.WithShape(B), tensor.WithBacking(n.wBuf))))
	gum := G.NewMatrix(g, tensor.Float32, G.WithShape(B*M, K), G.WithName("gumbel"),
		G.WithValue(tensor.New(tensor.WithShape(B*M, K), tensor.WithBacking(n.gBuf))))

	param := func(name string, rows, cols int, limit float64) *G.Node {
		data := make([]float32, rows*cols)
		for i := range data {
			data[i] = float32((rng.Float64()*2 - 1) * limit)
		}
		n.pData = append(n.pData, data)
		p := G.NewMatrix(g, tensor.Float32, G.WithShape(rows, cols), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(rows, cols), tensor.WithBacking(data))))
		n.params = append(n.params, p)
		return p
	}
	// Small uniform (Glorot) initialisation; biases start at zero.
	W1 := param("W1", D, H, math.Sqrt(6/float64(D+H)))
	b1 := param("b1", 1, H, 0)
	W2 := param("W2", H, MK, math.Sqrt(6/float64(H+MK)))
	b2 := param("b2", 1, MK, 0)
	A := param("A", MK, D, math.Sqrt(6/float64(MK+D)))

	var err error
	must := func(v *G.Node, e error) *G.Node {
		if e != nil && err == nil {
			err = e
		}
		return v
	}
	h := must(G.Tanh(must(G.BroadcastAdd(must(G.Mul(x, W1)), b1, nil, []byte{0}))))
	logits := must(G.Log(must(G.Softplus(must(G.BroadcastAdd(must(G.Mul(h, W2)), b2, nil, []byte{0}))))))
	z := must(G.Add(must(G.Reshape(logits, tensor.Shape{B * M, K})), gum))
	if tau != 1 {
		z = must(G.Mul(z, G.NewConstant(float32(1/tau))))
	}
	d := must(G.Reshape(must(G.SoftMax(z)), tensor.Shape{B, MK}))
	y := must(G.Mul(d, A))
	rowErr := must(G.Sum(must(G.Square(must(G.Sub(y, x)))), 1))
	n.loss = must(G.Mul(must(G.Sum(must(G.HadamardProd(rowErr, w)))), G.NewConstant(float32(0.5/float64(B)))))
	if err != nil {
		return nil, fmt.Errorf("building graph: %w", err)
	}
	if n.grads, err = G.Grad(n.loss, n.params...); err != nil {
		return nil, fmt.Errorf("differentiating graph: %w", err)
	}
	n.vm = G.NewTapeMachine(g)
	for _, p := range n.pData {
		n.adamM = append(n.adamM, make([]float32, len(p)))
		n.adamV = append(n.adamV, make([]float32, len(p)))
	}
	return n, nil
}

// step runs forward and backward passes on the fed batch and applies one
// Adam update with global-norm gradient clipping. It returns the batch loss.
func (n *dcclNet) step(t int, lr, clip float64) (float64, error) {
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, err
	}
	var sq float64
	if n.gData == nil {
		n.gData = make([][]float32, len(n.grads))
	}
	gs := n.gData
	for i, gn := range n.grads {
		gd, ok := gn.Value().Data().([]float32)
		if !ok {
			return 0, errors.New("unexpected gradient type")
		}
		gs[i] = gd
		for _, v := range gd {
			sq += float64(v) * float64(v)
		}
	}
	scale := float32(1)
	if norm := math.Sqrt(sq); clip > 0 && norm > clip {
		scale = float32(clip / norm)
	}
	b1t := 1 - math.Pow(adamBeta1, float64(t))
	b2t := 1 - math.Pow(adamBeta2, float64(t))
	lrt := float32(lr * math.Sqrt(b2t) / b1t)
	for i, p := range n.pData {
		gd, m, v := gs[i], n.adamM[i], n.adamV[i]
		for j := range p {
			gj := gd[j] * scale
			m[j] = adamBeta1*m[j] + (1-adamBeta1)*gj
			v[j] = adamBeta2*v[j] + (1-adamBeta2)*gj*gj
			p[j] -= lrt * m[j] / (float32(math.Sqrt(float64(v[j]))) + adamEps)
		}
	}
	lv, ok := n.loss.Value().Data().(float32)
	if !ok {
		return 0, errors.New("unexpected loss type")
	}
	return float64(lv), nil
}

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

// learnDCCL trains the paper's Gumbel-softmax autoencoder and returns argmax
// codes and the decoder matrix of the best parameters on a held-out slice.
func learnDCCL(ctx context.Context, data []float32, V, D int, cfg Config) ([]uint16, []float32, error) {
	M, K := cfg.M, cfg.K
	MK := M * K
	H := cfg.Hidden
	if H <= 0 {
		H = max(MK/2, 1)
	}
	lr := orDefaultF(cfg.LR, defaultLR)
	tau := orDefaultF(cfg.Tau, defaultTau)
	clip := orDefaultF(cfg.ClipNorm, defaultClipNorm)
	epochs := orDefault(cfg.Epochs, defaultEpochs)
	valFrac := orDefaultF(cfg.ValFraction, defaultValFrac)
	progress := cfg.Progress
	if progress == nil {
		progress = func(Progress) {}
	}
	weight := func(i int) float32 {
		if cfg.Weights == nil {
			return 1
		}
		return cfg.Weights[i]
	}

	rng := rand.New(rand.NewPCG(uint64(cfg.Seed), 0xdcc1))
	// Rows that carry weight take part in training; hold out a validation
	// slice chosen by the seed.
	var active []int
	for i := 0; i < V; i++ {
		if weight(i) > 0 {
			active = append(active, i)
		}
	}
	rng.Shuffle(len(active), func(a, b int) { active[a], active[b] = active[b], active[a] })
	nVal := int(math.Round(float64(len(active)) * valFrac))
	nVal = max(1, min(nVal, maxValRows))
	var train, val []int
	if len(active) < 4 {
		train, val = active, active
	} else {
		nVal = min(nVal, len(active)/2)
		val, train = active[:nVal], active[nVal:]
	}
	B := orDefault(cfg.Batch, defaultBatch)
	B = min(B, len(train))

	net, err := newDCCLNet(B, D, H, M, K, tau, rng)
	if err != nil {
		return nil, nil, err
	}
	defer net.vm.Close()

	valCodes := make([]uint16, len(val)*M)
	valErr := func() float64 {
		dcclEncode(data, D, H, M, K, net.pData, val, valCodes)
		A := net.pData[4]
		var num, den float64
		for r, i := range val {
			x := data[i*D : (i+1)*D]
			var e, nx float64
			for j := 0; j < D; j++ {
				var y float32
				for m := 0; m < M; m++ {
					y += A[(m*K+int(valCodes[r*M+m]))*D+j]
				}
				d := float64(y - x[j])
				e += d * d
				nx += float64(x[j]) * float64(x[j])
			}
			num += float64(weight(i)) * e
			den += float64(weight(i)) * nx
		}
		return ratio(num, den)
	}
	best := make([][]float32, len(net.pData))
	save := func() {
		for i, p := range net.pData {
			best[i] = append(best[i][:0], p...)
		}
	}
	bestErr := valErr()
	save()
	progress(Progress{Phase: "validate", Step: 0, Total: epochs, Loss: bestErr})

	start := time.Now()
	stepsPerEpoch := len(train) / B
	order := append([]int(nil), train...)
	t := 0
	for ep := 1; ep <= epochs; ep++ {
		rng.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
		var run float64
		for s := 0; s < stepsPerEpoch; s++ {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			for r := 0; r < B; r++ {
				i := order[s*B+r]
				copy(net.xBuf[r*D:(r+1)*D], data[i*D:(i+1)*D])
				net.wBuf[r] = weight(i)
			}
			for j := range net.gBuf {
				u := rng.Float64()
				for u == 0 {
					u = rng.Float64()
				}
				net.gBuf[j] = float32(-math.Log(-math.Log(u)))
			}
			t++
			l, err := net.step(t, lr, clip)
			if err != nil {
				return nil, nil, fmt.Errorf("epoch %d step %d: %w", ep, s+1, err)
			}
			if math.IsNaN(l) {
				return nil, nil, fmt.Errorf("epoch %d step %d: loss is NaN", ep, s+1)
			}
			run += l
			if (s+1)%100 == 0 {
				progress(Progress{Phase: "train", Step: (ep-1)*stepsPerEpoch + s + 1, Total: epochs * stepsPerEpoch, Loss: run / float64(s+1)})
			}
		}
		if e := valErr(); e < bestErr {
			bestErr = e
			save()
		}
		progress(Progress{Phase: "validate", Step: ep, Total: epochs, Loss: bestErr})
		if cfg.TimeBudget > 0 && time.Since(start) >= cfg.TimeBudget {
			break
		}
	}

	all := make([]int, V)
	for i := range all {
		all[i] = i
	}
	codes := make([]uint16, V*M)
	dcclEncode(data, D, H, M, K, best, all, codes)
	return codes, best[4], nil
}
