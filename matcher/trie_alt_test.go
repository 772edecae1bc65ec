package matcher

// The trie below is the alternative the edit tier was measured against (TestMeasureTrie), and what
// served patterns with '*' before skelIndex; it is kept for that measurement only.

// trie is a character trie over skeletons in flat, pointer-free arrays (first child, next sibling),
// so the garbage collector never scans it and a node costs 13 bytes. Bulk loading in sorted order
// lays each subtree out contiguously; live inserts append nodes, and removals only clear a node's
// group, leaving the path for the next bulk load to drop.
type trie struct {
	label []byte
	child []uint32 // first child; 0 means none (the root, node 0, is never a child)
	sib   []uint32 // next sibling; 0 means none
	group []uint32 // skeleton group ending at this node; 0 means none
}

func (t *trie) init() {
	t.label = append(t.label[:0], 0)
	t.child = append(t.child[:0], 0)
	t.sib = append(t.sib[:0], 0)
	t.group = append(t.group[:0], 0)
}

// nodes returns how many nodes the trie holds.
func (t *trie) nodes() int { return len(t.label) }

// insert returns the node for s, creating the path as needed.
func (t *trie) insert(s []byte) uint32 {
	n := uint32(0)
	for _, c := range s {
		n = t.childFor(n, c)
	}
	return n
}

// childFor returns the child of n labelled c, appending it when absent. Children stay in label
// order so a bulk load and a live insert give the same shape.
func (t *trie) childFor(n uint32, c byte) uint32 {
	prev := uint32(0)
	x := t.child[n]
	for x != 0 && t.label[x] < c {
		prev, x = x, t.sib[x]
	}
	if x != 0 && t.label[x] == c {
		return x
	}
	id := uint32(len(t.label))
	t.label = append(t.label, c)
	t.child = append(t.child, 0)
	t.sib = append(t.sib, x)
	t.group = append(t.group, 0)
	if prev == 0 {
		t.child[n] = id
	} else {
		t.sib[prev] = id
	}
	return id
}

// find returns the node for s, or 0 when s is not a path of the trie.
func (t *trie) find(s []byte) uint32 {
	n := uint32(0)
	for _, c := range s {
		x := t.child[n]
		for x != 0 && t.label[x] < c {
			x = t.sib[x]
		}
		if x == 0 || t.label[x] != c {
			return 0
		}
		n = x
	}
	return n
}

// bytes returns the memory the trie's arrays hold.
func (t *trie) bytes() int {
	return cap(t.label) + 4*(cap(t.child)+cap(t.sib)+cap(t.group))
}

// collect calls f with the group of every node in the subtree below n (n itself excluded), in
// depth-first order, until f returns false.
func (t *trie) collect(n uint32, f func(g uint32) bool) {
	var stack [maxFuzzyLen + 2]uint32
	sp := 0
	x := t.child[n]
	for {
		for x != 0 {
			if g := t.group[x]; g != 0 && !f(g) {
				return
			}
			if t.child[x] != 0 && sp < len(stack) {
				stack[sp] = t.sib[x]
				sp++
				x = t.child[x]
				continue
			}
			x = t.sib[x]
		}
		if sp == 0 {
			return
		}
		sp--
		x = stack[sp]
	}
}

// walker searches a trie for every path within k edits (Damerau, adjacent transpositions count
// one; '?' in the pattern matches any character, '*' any run) of a pattern, one dynamic
// programming row per trie depth. Its rows live in the walker so a search allocates nothing.
type walker struct {
	t     *trie
	p     []byte
	k     uint8
	rows  [maxFuzzyLen + 2][maxFuzzyLen + 2]uint8
	path  [maxFuzzyLen + 2]byte
	visit func(group uint32, dist int)
	// nodes counts the trie nodes the walk evaluated; the walk stops past maxNodes, which bounds
	// the cost of a vague pattern such as "1*".
	nodes, maxNodes int
}

// walk reports, through visit, every group whose skeleton is within k of p.
func (w *walker) walk(t *trie, p []byte, k int, visit func(group uint32, dist int)) {
	if len(p) > maxFuzzyLen {
		return
	}
	w.t, w.p, w.k, w.visit = t, p, uint8(k), visit
	w.nodes = 0
	r := &w.rows[0]
	r[0] = 0
	for i, c := range p {
		r[i+1] = sat(r[i] + 1)
		if c == '*' {
			r[i+1] = r[i]
		}
	}
	if t.group[0] != 0 && int(r[len(p)]) <= k {
		visit(t.group[0], int(r[len(p)]))
	}
	w.dfs(0, 0)
}

// sat caps a distance so uint8 rows never wrap; anything past the edit budget is too far anyway.
func sat(v uint8) uint8 { return min(v, 8) }

func (w *walker) dfs(node uint32, d int) {
	t, p, k := w.t, w.p, w.k
	m := len(p)
	prev := &w.rows[d]
	row := &w.rows[d+1]
	for x := t.child[node]; x != 0; x = t.sib[x] {
		w.nodes++
		if w.maxNodes > 0 && w.nodes > w.maxNodes {
			return
		}
		c := t.label[x]
		row[0] = sat(uint8(d + 1))
		best := row[0]
		for i := 1; i <= m; i++ {
			pc := p[i-1]
			var v uint8
			if pc == '*' {
				v = min(row[i-1], prev[i])
			} else {
				cost := uint8(1)
				if pc == c || pc == '?' {
					cost = 0
				}
				v = min(prev[i-1]+cost, prev[i]+1, row[i-1]+1)
				if d >= 1 && i >= 2 && pc == w.path[d] && p[i-2] == c && pc != c {
					v = min(v, w.rows[d-1][i-2]+1)
				}
				v = sat(v)
			}
			row[i] = v
			best = min(best, v)
		}
		if best > k {
			continue
		}
		if g := t.group[x]; g != 0 && row[m] <= k {
			w.visit(g, int(row[m]))
		}
		if t.child[x] != 0 && d+1 < maxFuzzyLen {
			w.path[d+1] = c
			w.dfs(x, d+1)
			// The recursive call overwrote deeper rows only; ours is intact.
		}
	}
}
