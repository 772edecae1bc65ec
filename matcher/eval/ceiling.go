package eval

import (
	"bytes"
	"slices"
)

// maxAffix is the most characters a mark or an unread part may add or drop in the affix tiers.
const maxAffix = 6

// affixKey is the tier and distance of serial j in the affix order (see rankKey); ok is false
// when it is in no tier (more than two edits and no prefix or suffix of the query, or the other
// way round).
func (s *scanner) affixKey(j int) (tier, dist int, ok bool) {
	skel, q := s.c.skel(j), s.qskelB
	if bytes.Equal(skel, q) {
		return 0, 0, true
	}
	short, long := skel, q
	if len(short) > len(long) {
		short, long = long, short
	}
	if extra := len(long) - len(short); extra <= maxAffix && len(short) >= 3 &&
		(bytes.HasPrefix(long, short) || bytes.HasSuffix(long, short)) {
		return 1, extra, true
	}
	if !lengthOK(len(skel), len(q), 0, 2) || !s.hist.within(skel, false, 2) {
		return 0, 0, false
	}
	if d := distanceWithin(string(skel), s.qskel, 2); d <= 2 {
		return 2, d, true
	}
	return 0, 0, false
}

// affixCeiling is ceiling in the affix order: every serial of every record is compared.
func (s *scanner) affixCeiling(truth int32) (above, ties int) {
	c := s.c
	keyOf := func(r int32) (rankKey, bool) {
		k := rankKey{record: r, tier: 3}
		found := false
		for j := c.first[r]; j < c.first[r+1]; j++ {
			tier, d, ok := s.affixKey(int(j))
			if !ok {
				continue
			}
			pd := Distance(string(c.norm(int(j))), s.qnorm)
			if !found || tier < k.tier || tier == k.tier && (d < k.cdist || d == k.cdist && pd < k.pd) {
				k.tier, k.cdist, k.pd, found = tier, d, pd, true
			}
		}
		if found {
			k.agree = s.agree(r)
		}
		return k, found
	}
	tk, ok := keyOf(truth)
	if !ok {
		tk = rankKey{record: truth, tier: 3, agree: s.agree(truth)}
	}
	for r := int32(0); r < int32(len(c.first)-1); r++ {
		if r == truth {
			continue
		}
		k, ok := keyOf(r)
		switch {
		case !ok:
		case k.better(tk):
			above++
		case !tk.better(k):
			ties++
		}
	}
	return above, ties
}

// ceiling returns how many records rank strictly above the truth and how many tie with it, under
// the ordering of rankKey. Records farther than the truth (confusable-aware) are never above it
// when the truth agrees on make and type, which every positive query does.
func (s *scanner) ceiling(truth int32) (above, ties int) {
	if s.affix {
		return s.affixCeiling(truth)
	}
	tk := s.keyOf(truth)
	s.each(tk.cdist, func(k rankKey) {
		switch {
		case k.record == truth:
		case k.better(tk):
			above++
		case !tk.better(k):
			ties++
		}
	})
	return above, ties
}

// ceilingRecall is the probability that the truth is in the top k when ties break at random.
func ceilingRecall(above, ties, k int) float64 {
	return min(1, max(0, float64(k-above)/float64(ties+1)))
}

// baseline ranks every record within two edits (confusable-aware) by rankKey, ties by record
// order, and returns the best limit: the linear scan a general-purpose store would do.
func (s *scanner) baseline(limit int) []int32 {
	var top []rankKey
	s.each(2, func(k rankKey) {
		i, _ := slices.BinarySearchFunc(top, k, func(a, b rankKey) int {
			if a.better(b) {
				return -1
			}
			if b.better(a) {
				return 1
			}
			return int(a.record - b.record)
		})
		if i < limit {
			top = slices.Insert(top, i, k)
			if len(top) > limit {
				top = top[:limit]
			}
		}
	})
	out := make([]int32, len(top))
	for i, k := range top {
		out[i] = k.record
	}
	return out
}
