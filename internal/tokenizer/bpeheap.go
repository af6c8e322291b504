package tokenizer

// candidate is a possible merge of the symbol at pos with the one after it.
type candidate struct {
	rank, id int32
	pos      int32
}

func (a candidate) less(b candidate) bool {
	return a.rank < b.rank || a.rank == b.rank && a.pos < b.pos
}

// candHeap is a binary min-heap of candidates.
type candHeap []candidate

func (h *candHeap) push(c candidate) {
	*h = append(*h, c)
	q := *h
	for i := len(q) - 1; i > 0; {
		p := (i - 1) / 2
		if !q[i].less(q[p]) {
			break
		}
		q[i], q[p] = q[p], q[i]
		i = p
	}
}

func (h *candHeap) pop() candidate {
	q := *h
	top := q[0]
	n := len(q) - 1
	q[0] = q[n]
	q = q[:n]
	for i := 0; ; {
		l, small := 2*i+1, i
		if l < n && q[l].less(q[small]) {
			small = l
		}
		if r := l + 1; r < n && q[r].less(q[small]) {
			small = r
		}
		if small == i {
			break
		}
		q[i], q[small] = q[small], q[i]
		i = small
	}
	*h = q
	return top
}

// mergeHeap is mergeAll over a linked list of symbols and a heap of
// candidate merges, O(n log n) in the word's length. A symbol absorbs the
// one after it, so positions keep their order and ties go leftmost.
func (m *bpe) mergeHeap(syms []int) []int {
	n := len(syms)
	next := make([]int32, n)
	prev := make([]int32, n)
	for i := range syms {
		next[i], prev[i] = int32(i+1), int32(i-1)
	}
	next[n-1] = -1
	var h candHeap
	try := func(i int32) {
		if i < 0 || next[i] < 0 {
			return
		}
		j := next[i]
		if mg, ok := m.merges[pairKey(syms[i], syms[j])]; ok {
			h.push(candidate{mg.rank, mg.id, i})
		}
	}
	for i := 0; i+1 < n; i++ {
		try(int32(i))
	}
	for len(h) > 0 {
		c := h.pop()
		j := next[c.pos]
		if syms[c.pos] < 0 || j < 0 {
			continue
		}
		// A neighbour may have merged since the candidate was pushed. As
		// in the tokenizers library, the candidate still holds if the pair
		// there now merges into the same token (at the popped rank).
		if mg, ok := m.merges[pairKey(syms[c.pos], syms[j])]; !ok || mg.id != c.id {
			continue
		}
		syms[c.pos] = int(c.id)
		syms[j] = -1
		next[c.pos] = next[j]
		if next[j] >= 0 {
			prev[next[j]] = c.pos
		}
		try(prev[c.pos])
		try(c.pos)
	}
	out := syms[:0]
	for i := int32(0); i >= 0; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}
