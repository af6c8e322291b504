package learner

import (
	"fmt"
	"math"

	G "gorgonia.org/gorgonia"
	"gorgonia.org/tensor"
)

// dcclNet is one compiled gorgonia graph for a shard of B rows of a batch,
// with its reusable input buffers. The parameters' values are shared by all
// shards (the graphs only read them); every graph has its own gradients.
type dcclNet struct {
	B          int
	g          *G.ExprGraph
	vm         G.VM
	xBuf, wBuf []float32 // shard input and row weights, fed in place
	gBuf       []float32 // Gumbel noise [B*M, K], fed in place
	grads      G.Nodes   // of W1, b1, W2, b2, A
	loss       *G.Node
	gData      [][]float32 // gradient arrays, looked up after every run
	uniform    []float64   // the shard's uniform draws, made into gBuf by run
}

// dcclShape is the network's shape and temperature.
type dcclShape struct {
	D, H, M, K int
	tau        float64
}

// newDCCLNet builds the graph once for B rows: h = tanh(x W1 + b1),
// a = log(softplus(h W2 + b2)), d = softmax((a + g)/tau) per group of K,
// y = d A, loss = scale * sum_i w_i ||y_i - x_i||^2, over the parameter
// values ps = {W1, b1, W2, b2, A}.
func newDCCLNet(B int, sh dcclShape, ps [][]float32, scale float64) (*dcclNet, error) {
	D, H, M, K := sh.D, sh.H, sh.M, sh.K
	MK := M * K
	n := &dcclNet{B: B, g: G.NewGraph(), xBuf: make([]float32, B*D), wBuf: make([]float32, B), gBuf: make([]float32, B*MK)}
	g := n.g
	in := func(name string, data []float32, shape ...int) *G.Node {
		return G.NewTensor(g, tensor.Float32, len(shape), G.WithShape(shape...), G.WithName(name),
			G.WithValue(tensor.New(tensor.WithShape(shape...), tensor.WithBacking(data))))
	}
	x := in("x", n.xBuf, B, D)
	w := in("w", n.wBuf, B)
	gum := in("gumbel", n.gBuf, B*M, K)
	shapes := [][2]int{{D, H}, {1, H}, {H, MK}, {1, MK}, {MK, D}}
	params := make(G.Nodes, len(shapes))
	for i, name := range []string{"W1", "b1", "W2", "b2", "A"} {
		params[i] = in(name, ps[i], shapes[i][0], shapes[i][1])
	}
	W1, b1, W2, b2, A := params[0], params[1], params[2], params[3], params[4]

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
	if sh.tau != 1 {
		z = must(G.Mul(z, G.NewConstant(float32(1/sh.tau))))
	}
	d := must(G.Reshape(must(G.SoftMax(z)), tensor.Shape{B, MK}))
	y := must(G.Mul(d, A))
	rowErr := must(G.Sum(must(G.Square(must(G.Sub(y, x)))), 1))
	n.loss = must(G.Mul(must(G.Sum(must(G.HadamardProd(rowErr, w)))), G.NewConstant(float32(scale))))
	if err != nil {
		return nil, fmt.Errorf("building graph: %w", err)
	}
	if n.grads, err = G.Grad(n.loss, params...); err != nil {
		return nil, fmt.Errorf("differentiating graph: %w", err)
	}
	n.vm = G.NewTapeMachine(g)
	n.gData = make([][]float32, len(params))
	return n, nil
}

// run turns the shard's uniform draws into Gumbel noise, makes the forward
// and backward passes on the fed shard and returns its loss; the gradients
// are then in gData.
func (n *dcclNet) run() (float64, error) {
	for j, u := range n.uniform {
		n.gBuf[j] = float32(-math.Log(-math.Log(u)))
	}
	n.vm.Reset()
	if err := n.vm.RunAll(); err != nil {
		return 0, err
	}
	for i, gn := range n.grads {
		gd, ok := gn.Value().Data().([]float32)
		if !ok {
			return 0, fmt.Errorf("unexpected gradient type %T", gn.Value().Data())
		}
		n.gData[i] = gd
	}
	lv, ok := n.loss.Value().Data().(float32)
	if !ok {
		return 0, fmt.Errorf("unexpected loss type %T", n.loss.Value().Data())
	}
	return float64(lv), nil
}

// adam holds the Adam optimiser's moments for a list of parameter arrays.
type adam struct {
	m, v [][]float32
}

func newAdam(ps [][]float32) *adam {
	a := &adam{}
	for _, p := range ps {
		a.m = append(a.m, make([]float32, len(p)))
		a.v = append(a.v, make([]float32, len(p)))
	}
	return a
}

// update applies Adam step t (from 1) with learning rate lr to ps with
// gradients gs, first scaling the gradients so that their global L2 norm is
// at most clip.
func (a *adam) update(t int, lr, clip float64, ps, gs [][]float32) {
	var sq float64
	for _, gd := range gs {
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
	for i, p := range ps {
		gd, m, v := gs[i], a.m[i], a.v[i]
		for j := range p {
			gj := gd[j] * scale
			m[j] = adamBeta1*m[j] + (1-adamBeta1)*gj
			v[j] = adamBeta2*v[j] + (1-adamBeta2)*gj*gj
			p[j] -= lrt * m[j] / (float32(math.Sqrt(float64(v[j]))) + adamEps)
		}
	}
}
