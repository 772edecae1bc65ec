package matcher

// segPool keeps the arrays of runs that a merge has replaced, for the next segments to reuse.
// A log-structured index rewrites its entries once per level, about a gigabyte of allocations over
// 1.4M writes; served from the heap, that allocation would make each write pay for garbage
// collection work in proportion (an allocating goroutine assists the collector), which showed as
// writes of tens of milliseconds while a collection ran. Reused, the index allocates little more
// than it grows. Arrays are kept by capacity class (multiples of poolUnit entries), and the pool
// holds at most poolMax bytes; beyond that freed arrays go to the garbage collector.
type segPool struct {
	// exact turns the pool off: arrays of their exact length, nothing kept (for the single run
	// Compact builds, which stays).
	exact bool
	lo    map[int][][]uint16
	val   map[int][][]uint32
	pos   map[int][][]uint8
	dir   map[int][][]uint32 // by exact length
	bytes int
}

const (
	poolUnit = 4096
	poolMax  = 32 << 20
)

func poolClass(n int) int { return (n + poolUnit - 1) / poolUnit }

// loVal returns lo and val arrays of length n, and a pos array of length n when withPos (nil
// otherwise), reused when the pool has them (not cleared: the caller fills them).
func (p *segPool) loVal(n int, withPos bool) ([]uint16, []uint32, []uint8) {
	if p.exact {
		var pos []uint8
		if withPos {
			pos = make([]uint8, n)
		}
		return make([]uint16, n), make([]uint32, n), pos
	}
	c := poolClass(n)
	var lo []uint16
	var val []uint32
	var pos []uint8
	if withPos {
		if l := p.pos[c]; len(l) > 0 {
			pos, p.pos[c] = l[len(l)-1][:n], l[:len(l)-1]
			p.bytes -= cap(pos)
		} else {
			pos = make([]uint8, n, c*poolUnit)
		}
	}
	if l := p.lo[c]; len(l) > 0 {
		lo, p.lo[c] = l[len(l)-1][:n], l[:len(l)-1]
		p.bytes -= 2 * cap(lo)
	} else {
		lo = make([]uint16, n, c*poolUnit)
	}
	if l := p.val[c]; len(l) > 0 {
		val, p.val[c] = l[len(l)-1][:n], l[:len(l)-1]
		p.bytes -= 4 * cap(val)
	} else {
		val = make([]uint32, n, c*poolUnit)
	}
	return lo, val, pos
}

// dirOf returns a zeroed directory of length n.
func (p *segPool) dirOf(n int) []uint32 {
	if l := p.dir[n]; len(l) > 0 {
		d := l[len(l)-1]
		p.dir[n] = l[:len(l)-1]
		p.bytes -= 4 * cap(d)
		clear(d)
		return d
	}
	return make([]uint32, n)
}

// release takes back the arrays of a run no search can reach any more.
func (p *segPool) release(r *hashRun) {
	if p.exact {
		return
	}
	if p.lo == nil {
		p.lo, p.val, p.dir = map[int][][]uint16{}, map[int][][]uint32{}, map[int][][]uint32{}
		p.pos = map[int][][]uint8{}
	}
	for i := range r.segs {
		seg := &r.segs[i]
		if cap(seg.lo)%poolUnit == 0 && cap(seg.lo) > 0 && p.bytes+6*cap(seg.lo) <= poolMax {
			c := cap(seg.lo) / poolUnit
			p.lo[c] = append(p.lo[c], seg.lo)
			p.val[c] = append(p.val[c], seg.val[:0:cap(seg.lo)])
			p.bytes += 6 * cap(seg.lo)
		}
		if cap(seg.pos)%poolUnit == 0 && cap(seg.pos) > 0 && p.bytes+cap(seg.pos) <= poolMax {
			c := cap(seg.pos) / poolUnit
			p.pos[c] = append(p.pos[c], seg.pos[:0])
			p.bytes += cap(seg.pos)
		}
		if len(seg.dir) > 0 && p.bytes+4*len(seg.dir) <= poolMax {
			p.dir[len(seg.dir)] = append(p.dir[len(seg.dir)], seg.dir)
			p.bytes += 4 * cap(seg.dir)
		}
		*seg = hashSeg{}
	}
}

// drop empties the pool; exact sets whether it stays off.
func (p *segPool) drop(exact bool) { *p = segPool{exact: exact} }
