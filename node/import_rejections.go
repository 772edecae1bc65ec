package node

import (
	"container/heap"
	"sort"
	"unicode/utf8"

	"github.com/fedarms/fedarms/node/wire"
)

// maxRejectionText bounds one rejection's message: a reason quoting a 60 KB value would otherwise
// make the answer many times larger than the input.
const maxRejectionText = 512

// rejections keeps the first wire.MaxRejections rejected lines by line number and counts every one.
// Batches are applied concurrently, so rejections arrive out of order: a max-heap on the line keeps
// the lowest ones in bounded memory. Not safe for concurrent use (the importer holds its mutex).
type rejections struct {
	kept  rejectionHeap
	count int
}

func (rs *rejections) add(r wire.Rejection) {
	rs.count++
	if len(rs.kept) == wire.MaxRejections {
		if r.Line >= rs.kept[0].Line {
			return
		}
		heap.Pop(&rs.kept)
	}
	r.Error = clipText(r.Error, maxRejectionText)
	r.ID = clipText(r.ID, 80)
	heap.Push(&rs.kept, r)
}

// sorted is the kept rejections by line (never nil, for the JSON answer).
func (rs *rejections) sorted() []wire.Rejection {
	out := append([]wire.Rejection{}, rs.kept...)
	sort.SliceStable(out, func(i, j int) bool { return out[i].Line < out[j].Line })
	return out
}

type rejectionHeap []wire.Rejection

func (h rejectionHeap) Len() int           { return len(h) }
func (h rejectionHeap) Less(i, j int) bool { return h[i].Line > h[j].Line }
func (h rejectionHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *rejectionHeap) Push(x any)        { *h = append(*h, x.(wire.Rejection)) }
func (h *rejectionHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// clipText cuts s to at most n bytes on a rune boundary, marking the cut.
func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("...")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
