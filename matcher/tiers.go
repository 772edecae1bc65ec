package matcher

// tiers keeps the immutable runs of one index (a tiered log-structured merge) and merges them a
// bounded amount at a time, so that the index absorbs writes at a steady cost and no call ever
// pays for a rebuild of everything.
//
// A run of level i holds about base·fanIn^i entries. When a level holds fanIn runs, a merge of
// them starts; every write of n entries then advances every merge in progress by pace*n entries.
// A level-i merge moves fanIn·base·fanIn^i entries, and the next fanIn runs reach level i only
// after that many entries were written, so with pace 2 a merge finishes in half the time it has.
// Each entry is thus moved once per level, log4(N/base) times over its life: four times for the
// deletion index at 1.4M records. Merge inputs stay searchable until the merged run replaces
// them; a search looks at every run (up to about 2·fanIn per level while merges run).
type tiers[R any] struct {
	levels [][]*R      // complete runs, oldest first within a level
	active []merger[R] // the merge in progress at each level (of its first fanIn runs), or nil
	debt   []int       // entries each merge is owed: written entries times pace, less work done
	base   int
	// maxStep is the most entries one call of work moved, for the test that bounds it.
	maxStep int
	size    func(*R) int
	merge   func(in []*R) merger[R]
	release func(*R) // takes a run a completed merge replaced (nil: nothing to do)
}

// merger is an incremental merge of runs into one.
type merger[R any] interface {
	// step moves about budget entries (at least one unit of work) and reports how many it moved
	// and whether the merge is complete.
	step(budget int) (moved int, done bool)
	result() *R
}

// pace is how many entries of merge work every level owes per entry written; fanIn is how many
// runs of one level are merged into one of the next.
const (
	pace  = 2
	fanIn = 4
)

// levelOf returns the level a run of n entries belongs to: the level whose runs are closest.
func (t *tiers[R]) levelOf(n int) int {
	l := 0
	for size := t.base; 2*n >= size*fanIn; size *= fanIn {
		l++
	}
	return l
}

// add enters a complete run and starts the merges it calls for.
func (t *tiers[R]) add(r *R) {
	l := t.levelOf(t.size(r))
	for len(t.levels) <= l {
		t.levels = append(t.levels, nil)
		t.active = append(t.active, nil)
		t.debt = append(t.debt, 0)
	}
	t.levels[l] = append(t.levels[l], r)
	t.schedule()
}

// schedule starts a merge on every level that holds fanIn runs and has none in progress.
func (t *tiers[R]) schedule() {
	for l := range t.levels {
		if t.active[l] == nil && len(t.levels[l]) >= fanIn {
			t.active[l] = t.merge(t.levels[l][:fanIn:fanIn])
			t.debt[l] = 0
		}
	}
}

// work advances every merge in progress by pace*n entries, for n entries just written.
func (t *tiers[R]) work(n int) {
	total := 0
	defer func() { t.maxStep = max(t.maxStep, total) }()
	for l := 0; l < len(t.levels); l++ {
		m := t.active[l]
		if m == nil {
			continue
		}
		t.debt[l] += pace * n
		if t.debt[l] <= 0 {
			continue
		}
		moved, done := m.step(t.debt[l])
		t.debt[l] -= moved
		total += moved
		if done {
			t.complete(l)
		}
	}
}

// complete installs the finished merge of level l.
func (t *tiers[R]) complete(l int) {
	out := t.active[l].result()
	t.active[l] = nil
	t.debt[l] = 0
	if t.release != nil {
		for _, r := range t.levels[l][:fanIn] {
			t.release(r)
		}
	}
	t.levels[l] = append([]*R(nil), t.levels[l][fanIn:]...)
	t.add(out)
}

// finish completes every merge and merges all runs into one. It costs a pass over the whole
// index: for a caller that holds no searches up (see Index.Compact).
func (t *tiers[R]) finish() {
	for {
		l := -1
		for i := range t.active {
			if t.active[i] != nil {
				l = i
				break
			}
		}
		if l < 0 {
			break
		}
		for {
			if _, done := t.active[l].step(1 << 30); done {
				break
			}
		}
		t.complete(l)
	}
	var all []*R
	for _, lv := range t.levels {
		all = append(all, lv...)
	}
	t.levels, t.active, t.debt = nil, nil, nil
	switch len(all) {
	case 0:
		return
	case 1:
		t.add(all[0])
		return
	}
	m := t.merge(all)
	for {
		if _, done := m.step(1 << 30); done {
			break
		}
	}
	if t.release != nil {
		for _, r := range all {
			t.release(r)
		}
	}
	t.add(m.result())
}

// each calls f with every searchable run.
func (t *tiers[R]) each(f func(*R)) {
	for _, lv := range t.levels {
		for _, r := range lv {
			f(r)
		}
	}
}

// runs returns the number of searchable runs and of merges in progress.
func (t *tiers[R]) runs() (runs, merging int) {
	for l := range t.levels {
		runs += len(t.levels[l])
		if t.active[l] != nil {
			merging++
		}
	}
	return runs, merging
}

// compacted is the single run a compaction built from inputs, for install.
type compacted[R any] struct {
	in  []*R
	out *R
}

// all returns every searchable run, oldest level first.
func (t *tiers[R]) all() []*R {
	var all []*R
	for _, lv := range t.levels {
		all = append(all, lv...)
	}
	return all
}

// prepare merges every searchable run into one with merge, reading the runs only (they are
// immutable), so it may run while searches do.
func (t *tiers[R]) prepare(merge func(in []*R) merger[R]) compacted[R] {
	all := t.all()
	if len(all) < 2 {
		return compacted[R]{}
	}
	m := merge(all)
	for {
		if _, done := m.step(1 << 30); done {
			break
		}
	}
	return compacted[R]{in: all, out: m.result()}
}

// install replaces the inputs of c that are still searchable with c's run. A merge in progress
// over any of them is abandoned (its output was never searchable); inputs that a merge completed
// since prepare already replaced stay merged where they are, so their entries are held twice
// until the next compaction, which lookups tolerate (callers deduplicate what they find).
func (t *tiers[R]) install(c compacted[R], discard func(merger[R])) {
	if c.out == nil {
		return
	}
	gone := make(map[*R]bool, len(c.in))
	for _, r := range c.in {
		gone[r] = true
	}
	for l, m := range t.active {
		if m == nil {
			continue
		}
		for _, r := range t.levels[l][:fanIn] {
			if gone[r] {
				t.active[l], t.debt[l] = nil, 0
				if discard != nil {
					discard(m)
				}
				break
			}
		}
	}
	for l := range t.levels {
		kept := t.levels[l][:0:0]
		for _, r := range t.levels[l] {
			if !gone[r] {
				kept = append(kept, r)
			} else if t.release != nil {
				t.release(r)
			}
		}
		t.levels[l] = kept
	}
	t.add(c.out)
}
