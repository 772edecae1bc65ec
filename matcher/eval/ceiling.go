package eval

import "slices"

// ceiling returns how many records rank strictly above the truth and how many tie with it, under
// the ordering of rankKey. Records farther than the truth (confusable-aware) are never above it
// when the truth agrees on make and type, which every positive query does.
func (s *scanner) ceiling(truth int32) (above, ties int) {
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
