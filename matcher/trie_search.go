package matcher

// maxFuzzyLen bounds the length of skeletons the tries hold and of query patterns they are searched
// with; longer serials are matched by the exact tiers only. Real serials are far shorter.
const maxFuzzyLen = 40

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
