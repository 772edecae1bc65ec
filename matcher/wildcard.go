package matcher

// walkTier offers the serials matching a pattern with '*' (or many '?'): the groups whose skeleton
// starts with the pattern's longer fixed end (read from the end for "*3456") are ranges of the
// wildcard index, each checked against the whole pattern. A '?' within the fixed end is expanded
// into every character while that keeps the ranges few.
func (ix *Index) walkTier(qi *queryInfo, sc *scratch) {
	p := qi.qskel
	if len(p) > maxFuzzyLen {
		return
	}
	lead, trail := 0, 0
	for lead < len(p) && p[lead] != '*' {
		lead++
	}
	for trail < len(p) && p[len(p)-1-trail] != '*' {
		trail++
	}
	idx := &ix.fwd
	end := p
	if trail > lead {
		idx = &ix.rev
		end = appendReversed(make([]byte, 0, len(p)), p)
	}
	prefixes := [][]byte{nil}
	for _, c := range end {
		if c == '*' || len(prefixes[0]) == packedChars {
			break
		}
		if c == '?' {
			if len(prefixes)*len(skelAlphabet) > maxWildPrefixes {
				break
			}
			var next [][]byte
			for _, pre := range prefixes {
				for _, a := range skelAlphabet {
					next = append(next, append(pre[:len(pre):len(pre)], a))
				}
			}
			prefixes = next
			continue
		}
		for i := range prefixes {
			prefixes[i] = append(prefixes[i], c)
		}
	}
	scanned, found := 0, 0
	visit := func(g uint32, key uint64) bool {
		scanned++
		if scanned > maxWildScan || found >= maxWildGroups {
			return false
		}
		// The key holds the skeleton (reversed in the reverse index, as end is), or its first
		// twelve characters: check it without touching the group, a cache miss for each of the
		// thousands of groups a short fixed end covers.
		var buf [packedChars]byte
		skel, truncated := unpackSkel(buf[:0], key)
		if !truncated && !globMatch(end, skel) {
			return true
		}
		if _, seen := sc.groups.get(g); seen || ix.groups.rec.at(g).live == 0 {
			return true
		}
		sc.groups.put(g, groupOffered)
		if !globMatch(p, ix.groups.skel(g)) {
			return true
		}
		found++
		ix.offerGroup(qi, sc, g, 0)
		return true
	}
	for _, pre := range prefixes {
		lo, hi, ok := prefixRange(pre)
		if !ok {
			continue
		}
		idx.scan(lo, hi, visit)
		if scanned > maxWildScan || found >= maxWildGroups {
			return
		}
	}
}

// skelAlphabet is every character a skeleton may hold.
var skelAlphabet = func() []byte {
	var a []byte
	for c := 0; c < 256; c++ {
		if skelCode[c] != 0 {
			a = append(a, byte(c))
		}
	}
	return a
}()

// globMatch reports whether skeleton s matches pattern p, where '?' stands for one character and
// '*' for any run, the empty one included.
func globMatch(p, s []byte) bool {
	pi, si, star, mark := 0, 0, -1, 0
	for si < len(s) {
		switch {
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			pi++
			si++
		case pi < len(p) && p[pi] == '*':
			star, mark = pi, si
			pi++
		case star >= 0:
			pi = star + 1
			mark++
			si = mark
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}
