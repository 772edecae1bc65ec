package matcher

// The tables that grow with every record (records, serials, groups and their byte arenas) are
// paged rather than single slices: growing a slice of a million rows copies all of it, a stall of
// tens of milliseconds inside one Put while the node holds its write lock. A page is allocated
// once and never moves, so a Put costs the same at 10 records and at 10 million, and a row's
// address stays valid. The page directory is a short slice of slices, so an access costs one
// extra load that is almost always in cache.

const (
	pageBits = 14 // rows per page: 16,384 (a page of 24-byte rows is 384 KB)
	pageMask = 1<<pageBits - 1
)

// paged is a growable array of pointer-free rows in fixed-size pages.
type paged[T any] struct {
	pages [][]T
	n     int
}

// at returns row i, which must be below len.
func (p *paged[T]) at(i uint32) *T { return &p.pages[i>>pageBits][i&pageMask] }

// len returns the number of rows.
func (p *paged[T]) len() int { return p.n }

// push appends v and returns its index.
func (p *paged[T]) push(v T) uint32 {
	if p.n&pageMask == 0 && p.n>>pageBits == len(p.pages) {
		p.pages = append(p.pages, make([]T, 1<<pageBits))
	}
	i := uint32(p.n)
	p.pages[i>>pageBits][i&pageMask] = v
	p.n++
	return i
}

// cap returns how many rows the allocated pages hold, for memory accounting.
func (p *paged[T]) cap() int { return len(p.pages) << pageBits }

const (
	arenaPageBits = 20 // bytes per arena page: 1 MB
	arenaPageSize = 1 << arenaPageBits
	// maxArenaString bounds what one arena string may hold; longer input is cut by the callers.
	maxArenaString = 1 << 16
)

// arena stores short byte strings in 1 MB pages that never move; a string is addressed by
// page<<20 | offset and never straddles two pages. Bytes of removed strings are reused only
// when the owner reuses their slot (see serialTable and recordTable).
type arena struct {
	pages [][]byte
}

// arenaAdd copies s (at most maxArenaString bytes) into the arena and returns its address. A
// function rather than a method so that one body serves byte slices and strings alike.
func arenaAdd[S []byte | string](a *arena, s S) uint32 {
	last := len(a.pages) - 1
	if last < 0 || len(a.pages[last])+len(s) > arenaPageSize {
		a.pages = append(a.pages, make([]byte, 0, arenaPageSize))
		last++
	}
	off := len(a.pages[last])
	a.pages[last] = append(a.pages[last], s...)
	return uint32(last)<<arenaPageBits | uint32(off)
}

// get returns the n bytes at addr, aliasing the arena.
func (a *arena) get(addr uint32, n int) []byte {
	off := addr & (arenaPageSize - 1)
	return a.pages[addr>>arenaPageBits][off : off+uint32(n)]
}

// put overwrites the bytes at addr with s, which must fit the string stored there.
func (a *arena) put(addr uint32, s []byte) {
	off := addr & (arenaPageSize - 1)
	copy(a.pages[addr>>arenaPageBits][off:], s)
}

// bytes returns the memory the arena holds.
func (a *arena) bytes() int { return len(a.pages) * arenaPageSize }
