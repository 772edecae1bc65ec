package reference

import (
	"cmp"
	"slices"
	"strings"
)

// searchEntry is one searchable key (a normalised name or alias) pointing at a table row.
type searchEntry struct {
	key       string
	target    int
	canonical bool
}

// searchTable ranks the targets of entries against the normalised query q and returns at most
// limit distinct target indexes, best first. It is for lookup endpoints, not the hot path, so a
// linear scan over a few thousand keys is fine.
func searchTable(entries []searchEntry, q string, limit int) []int {
	if q == "" || limit <= 0 {
		return nil
	}
	type hit struct{ rank, keyLen, target int }
	best := map[int]hit{}
	for _, e := range entries {
		rank := 0
		switch {
		case e.key == q:
			rank = 0
		case strings.HasPrefix(e.key, q):
			rank = 2
		case strings.Contains(e.key, q):
			rank = 4
		default:
			continue
		}
		if !e.canonical {
			rank++
		}
		h := hit{rank: rank, keyLen: len(e.key), target: e.target}
		if old, ok := best[e.target]; !ok || h.rank < old.rank || (h.rank == old.rank && h.keyLen < old.keyLen) {
			best[e.target] = h
		}
	}
	hits := make([]hit, 0, len(best))
	for _, h := range best {
		hits = append(hits, h)
	}
	// Shorter matching keys first within a rank: "glo" should offer Glock before Glock-like longer names.
	slices.SortFunc(hits, func(a, b hit) int {
		return cmp.Or(cmp.Compare(a.rank, b.rank), cmp.Compare(a.keyLen, b.keyLen), cmp.Compare(a.target, b.target))
	})
	if len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]int, len(hits))
	for i, h := range hits {
		out[i] = h.target
	}
	return out
}
