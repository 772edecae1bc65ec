package matcher

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
