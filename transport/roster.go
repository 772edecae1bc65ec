package transport

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/libp2p/go-libp2p/core/peer"
)

// ErrNameTaken is returned when an entry reuses another member's name: operators address members
// by name, so two peers must never share one.
var ErrNameTaken = errors.New("roster name already used by another peer")

// ChangeKind says what happened to a roster entry.
type ChangeKind int

// The kinds of roster change a watcher sees.
const (
	Added ChangeKind = iota + 1
	Updated
	Removed
)

// String names the kind for logs.
func (k ChangeKind) String() string {
	switch k {
	case Added:
		return "added"
	case Updated:
		return "updated"
	case Removed:
		return "removed"
	}
	return fmt.Sprintf("ChangeKind(%d)", int(k))
}

// Change is one roster mutation, delivered to watchers in the order it happened.
type Change struct {
	// Kind is what happened.
	Kind ChangeKind
	// Entry is the new entry (Added, Updated) or the one that was removed.
	Entry Entry
}

// Roster is the set of federation members whose entries verified against the root key, by peer id.
// It is a mirror: the control raft group is the authority, and its FSM calls Add and Remove as the
// replicated roster changes. Safe for concurrent use.
//
// Lock order: notifyMu before mu. notifyMu serialises delivery so watchers see changes in order;
// mu guards members, names and watchers and is never held while a watcher runs.
type Roster struct {
	rootPub ed25519.PublicKey

	notifyMu sync.Mutex

	mu       sync.RWMutex
	members  map[peer.ID]SignedEntry // guarded by mu
	names    map[string]peer.ID      // guarded by mu
	watchers map[int]func(Change)    // guarded by mu
	nextW    int                     // guarded by mu
}

// NewRoster makes an empty roster that accepts only entries signed by rootPub.
func NewRoster(rootPub ed25519.PublicKey) (*Roster, error) {
	if len(rootPub) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("roster: root key has %d bytes, want %d", len(rootPub), ed25519.PublicKeySize)
	}
	return &Roster{
		rootPub:  slices.Clone(rootPub),
		members:  map[peer.ID]SignedEntry{},
		names:    map[string]peer.ID{},
		watchers: map[int]func(Change){},
	}, nil
}

// RootPub is the key this roster verifies entries against.
func (r *Roster) RootPub() ed25519.PublicKey { return slices.Clone(r.rootPub) }

// Add verifies se and adds or replaces the member's entry; a forged, unsigned or malformed entry is
// refused and leaves the roster unchanged, and so is an entry with a lower serial than the member's
// entry in force (ErrStaleEntry): whichever order the roster file and the control state are laid
// down in, the newer entry stays. Entries of equal serial replace each other, as entries without a
// serial always have.
func (r *Roster) Add(se SignedEntry) error {
	if err := VerifyEntry(r.rootPub, se); err != nil {
		return fmt.Errorf("roster: %w", err)
	}
	se = cloneSigned(se)
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	id := se.Entry.PeerID
	if other, ok := r.names[se.Entry.Name]; ok && other != id {
		r.mu.Unlock()
		return fmt.Errorf("roster: %q (%s): %w", se.Entry.Name, other, ErrNameTaken)
	}
	old, existed := r.members[id]
	if existed && old.Entry.Supersedes(se.Entry) {
		r.mu.Unlock()
		return fmt.Errorf("roster: %q (%s): serial %d, in force %d: %w", se.Entry.Name, id, se.Entry.Serial, old.Entry.Serial, ErrStaleEntry)
	}
	if existed {
		delete(r.names, old.Entry.Name)
	}
	r.members[id] = se
	r.names[se.Entry.Name] = id
	ws := r.watcherList()
	r.mu.Unlock()
	kind := Added
	if existed {
		kind = Updated
	}
	notify(ws, Change{Kind: kind, Entry: cloneEntry(se.Entry)})
	return nil
}

// Remove revokes a member: it disappears from the roster and every host watching the roster closes
// its connections to it. It reports whether the member was present.
func (r *Roster) Remove(id peer.ID) bool {
	r.notifyMu.Lock()
	defer r.notifyMu.Unlock()
	r.mu.Lock()
	old, ok := r.members[id]
	if ok {
		delete(r.members, id)
		delete(r.names, old.Entry.Name)
	}
	ws := r.watcherList()
	r.mu.Unlock()
	if ok {
		notify(ws, Change{Kind: Removed, Entry: cloneEntry(old.Entry)})
	}
	return ok
}

// Has reports whether id is a member; the connection gater calls it on every dial and accept.
func (r *Roster) Has(id peer.ID) bool {
	r.mu.RLock()
	defer r.mu.RUnlock()
	_, ok := r.members[id]
	return ok
}

// Get returns the member's entry.
func (r *Roster) Get(id peer.ID) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	se, ok := r.members[id]
	return cloneEntry(se.Entry), ok
}

// GetSigned returns the member's entry with its signature, for replicating or re-verifying it.
func (r *Roster) GetSigned(id peer.ID) (SignedEntry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	se, ok := r.members[id]
	return cloneSigned(se), ok
}

// ByName returns the member called name.
func (r *Roster) ByName(name string) (Entry, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	id, ok := r.names[name]
	if !ok {
		return Entry{}, false
	}
	return cloneEntry(r.members[id].Entry), true
}

// List returns every member's entry sorted by name.
func (r *Roster) List() []Entry {
	r.mu.RLock()
	out := make([]Entry, 0, len(r.members))
	for _, se := range r.members {
		out = append(out, cloneEntry(se.Entry))
	}
	r.mu.RUnlock()
	slices.SortFunc(out, func(a, b Entry) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Watch calls fn with an Added change for every current member, then with every later change, in
// order, until stop is called; replaying the current members under the same lock means a watcher
// never misses a change. fn runs on the goroutine that changed the roster, so it must be quick and
// must not call Add, Remove or stop (it may read). Once stop returns, fn is not running and will
// not run again, so its owner may be torn down.
func (r *Roster) Watch(fn func(Change)) (stop func()) {
	r.notifyMu.Lock()
	r.mu.Lock()
	id := r.nextW
	r.nextW++
	r.watchers[id] = fn
	r.mu.Unlock()
	for _, e := range r.List() {
		fn(Change{Kind: Added, Entry: e})
	}
	r.notifyMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			r.notifyMu.Lock() // waits out a delivery in progress
			r.mu.Lock()
			delete(r.watchers, id)
			r.mu.Unlock()
			r.notifyMu.Unlock()
		})
	}
}

// watcherList snapshots the watchers in registration order; the caller holds mu.
func (r *Roster) watcherList() []func(Change) {
	ids := make([]int, 0, len(r.watchers))
	for id := range r.watchers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	ws := make([]func(Change), len(ids))
	for i, id := range ids {
		ws[i] = r.watchers[id]
	}
	return ws
}

func notify(ws []func(Change), c Change) {
	for _, fn := range ws {
		fn(c)
	}
}

func cloneEntry(e Entry) Entry {
	e.Shards = slices.Clone(e.Shards)
	e.Addrs = slices.Clone(e.Addrs)
	return e
}

func cloneSigned(se SignedEntry) SignedEntry {
	se.Entry = cloneEntry(se.Entry)
	se.Signature = slices.Clone(se.Signature)
	return se
}
