package matcher

// pattern is a query skeleton compiled for bit-parallel distance computation (Myers' algorithm with
// Hyyrö's extension for adjacent transpositions): peq[c] has bit i set when pattern character i
// matches c ('?' matches every character). Checking a candidate then costs a handful of word
// operations per character instead of a row of the dynamic programming table.
type pattern struct {
	peq [256]uint64
	m   int
}

// compile prepares p (at most 64 characters) for osa.
func (pt *pattern) compile(p []byte) bool {
	if len(p) > 64 {
		return false
	}
	var wild uint64
	for i, c := range p {
		if c == '?' {
			wild |= 1 << i
		}
	}
	for c := range pt.peq {
		pt.peq[c] = wild
	}
	for i, c := range p {
		pt.peq[c] |= 1 << i
	}
	pt.m = len(p)
	return true
}

// osa returns the optimal-string-alignment distance between text a and the compiled pattern.
func (pt *pattern) osa(a []byte) int {
	m := pt.m
	if m == 0 {
		return len(a)
	}
	vp, vn := ^uint64(0)>>(64-m), uint64(0)
	last := uint64(1) << (m - 1)
	score := m
	var d0prev, pmPrev uint64
	for _, c := range a {
		pm := pt.peq[c]
		tr := (((^d0prev) & pm) << 1) & pmPrev
		d0 := (((pm & vp) + vp) ^ vp) | pm | vn | tr
		hp := vn | ^(d0 | vp)
		hn := d0 & vp
		switch {
		case hp&last != 0:
			score++
		case hn&last != 0:
			score--
		}
		x := hp<<1 | 1
		vn = x & d0
		vp = hn<<1 | ^(x | d0)
		d0prev, pmPrev = d0, pm
	}
	return score
}
