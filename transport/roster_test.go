package transport

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func signed(t *testing.T, priv ed25519.PrivateKey, name string, role Role) SignedEntry {
	t.Helper()
	e := Entry{PeerID: newTestIdentity(t).ID, Name: name, Role: role, Shards: []string{AllShards}}
	if role != RoleCentral {
		e.Country = "FR"
	}
	se, err := SignEntry(priv, e)
	if err != nil {
		t.Fatal(err)
	}
	return se
}

func TestRosterAddGetListRemove(t *testing.T) {
	pub, priv, _ := GenerateRootKey()
	_, otherPriv, _ := GenerateRootKey()
	r, err := NewRoster(pub)
	if err != nil {
		t.Fatal(err)
	}
	lyon := signed(t, priv, "lyon-1", RoleCentral)
	fr := signed(t, priv, "ncb-fr", RoleNCB)
	for _, se := range []SignedEntry{lyon, fr} {
		if err := r.Add(se); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Add(signed(t, otherPriv, "intruder", RoleCentral)); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged entry: %v", err)
	}
	taken := signed(t, priv, "lyon-1", RoleEdge)
	if err := r.Add(taken); !errors.Is(err, ErrNameTaken) {
		t.Fatalf("second peer named lyon-1: %v", err)
	}
	if list := r.List(); len(list) != 2 || list[0].Name != "lyon-1" || list[1].Name != "ncb-fr" {
		t.Fatalf("list %+v", list)
	}
	got, ok := r.Get(fr.Entry.PeerID)
	if !ok || got.Country != "FR" {
		t.Fatalf("get: %+v %v", got, ok)
	}
	got.Shards[0] = "mutated"
	if again, _ := r.Get(fr.Entry.PeerID); again.Shards[0] != AllShards {
		t.Fatal("Get handed out the roster's own slice")
	}
	if e, ok := r.ByName("lyon-1"); !ok || e.PeerID != lyon.Entry.PeerID {
		t.Fatal("ByName did not find lyon-1")
	}
	if !r.Remove(fr.Entry.PeerID) || r.Remove(fr.Entry.PeerID) {
		t.Fatal("Remove should report presence once")
	}
	if r.Has(fr.Entry.PeerID) {
		t.Fatal("removed member still present")
	}
	if _, ok := r.ByName("ncb-fr"); ok {
		t.Fatal("removed member still found by name")
	}
	if _, err := NewRoster(pub[:3]); err == nil {
		t.Fatal("roster with a short root key")
	}
}

func TestRosterWatchReplaysThenFollowsInOrder(t *testing.T) {
	pub, priv, _ := GenerateRootKey()
	r, _ := NewRoster(pub)
	a := signed(t, priv, "a", RoleCentral)
	if err := r.Add(a); err != nil {
		t.Fatal(err)
	}
	var got []string
	stop := r.Watch(func(c Change) { got = append(got, c.Kind.String()+" "+c.Entry.Name) })
	b := signed(t, priv, "b", RoleEdge)
	r.Add(b)
	moved := b
	moved.Entry.Shards = []string{"asia"}
	moved, _ = SignEntry(priv, moved.Entry)
	r.Add(moved)
	r.Remove(a.Entry.PeerID)
	stop()
	r.Remove(b.Entry.PeerID)
	want := []string{"added a", "added b", "updated b", "removed a"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
}

func TestRosterConcurrentUse(t *testing.T) {
	pub, priv, _ := GenerateRootKey()
	r, _ := NewRoster(pub)
	var entries []SignedEntry
	for i := range 50 {
		entries = append(entries, signed(t, priv, fmt.Sprintf("edge-%02d", i), RoleEdge))
	}
	var mu sync.Mutex
	seen := map[string]int{}
	stop := r.Watch(func(c Change) {
		mu.Lock()
		seen[c.Entry.Name]++
		mu.Unlock()
		r.List() // watchers may read
	})
	defer stop()
	var wg sync.WaitGroup
	for i, se := range entries {
		wg.Add(2)
		go func() { defer wg.Done(); r.Add(se) }()
		go func() {
			defer wg.Done()
			r.Has(se.Entry.PeerID)
			if i%2 == 0 {
				r.Remove(entries[i/2].Entry.PeerID)
			}
		}()
	}
	wg.Wait()
	for _, se := range entries {
		r.Add(se)
	}
	if n := len(r.List()); n != len(entries) {
		t.Fatalf("%d members, want %d", n, len(entries))
	}
	mu.Lock()
	defer mu.Unlock()
	for _, se := range entries {
		if seen[se.Entry.Name] == 0 {
			t.Fatalf("watcher never saw %s", se.Entry.Name)
		}
	}
}
