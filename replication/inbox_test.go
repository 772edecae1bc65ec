package replication

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/testutil"
)

// setState is an InboxState over a set of strings: an entry adds its bytes (once) and answers how
// many entries the set held before it, so a repeated one answers what it answered first.
type setState struct {
	mu       sync.Mutex
	items    map[string]int
	applied  uint64
	restores int
}

func newSetState() *setState { return &setState{items: map[string]int{}} }

func (s *setState) InboxApplied() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *setState) ApplyInbox(entries []InboxEntry) ([]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]any, len(entries))
	for i, e := range entries {
		k := string(e.Data)
		if _, ok := s.items[k]; !ok {
			s.items[k] = len(s.items)
		}
		out[i] = s.items[k]
		s.applied = e.Index
	}
	return out, nil
}

type setSnapshot []string

func (p setSnapshot) WriteTo(w io.Writer) (int64, error) {
	n, err := io.WriteString(w, strings.Join(p, "\n"))
	return int64(n), err
}

func (setSnapshot) Release() {}

func (s *setState) SnapshotInbox() (InboxSnapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out setSnapshot
	for k := range s.items {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}

func (s *setState) RestoreInbox(index uint64, r io.Reader) error {
	sc := bufio.NewScanner(r)
	s.mu.Lock()
	defer s.mu.Unlock()
	for sc.Scan() {
		if _, ok := s.items[sc.Text()]; !ok {
			s.items[sc.Text()] = len(s.items)
		}
	}
	s.applied = max(s.applied, index)
	s.restores++
	return sc.Err()
}

func (s *setState) len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.items)
}

// TestInboxGroupReplicatesAndCatchesUpBySnapshot runs the inbox group on three voters: every
// entry reaches every state, a repeated entry answers as it did first, and a voter that was down
// while the log was compacted past it gets the entries back through a snapshot merged into the
// state it kept.
func TestInboxGroupReplicatesAndCatchesUpBySnapshot(t *testing.T) {
	ids := []string{"a", "b", "c"}
	var voters []raft.Server
	for _, id := range ids {
		voters = append(voters, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(id), Address: raft.ServerAddress(id)})
	}
	states := map[string]*setState{}
	dirs := map[string]string{}
	trans := map[string]*raft.InmemTransport{}
	groups := map[string]*Inbox{}
	start := func(id string) {
		_, tr := raft.NewInmemTransport(raft.ServerAddress(id))
		trans[id] = tr
		for other, o := range trans {
			if other != id && groups[other] != nil {
				tr.Connect(raft.ServerAddress(other), o)
				o.Connect(raft.ServerAddress(id), tr)
			}
		}
		in, err := OpenInbox(InboxConfig{Dir: dirs[id], LocalID: id, Transport: tr, Bootstrap: true, Voters: voters,
			SnapshotThreshold: 1 << 20, TrailingLogs: 4, State: states[id], Tune: fastRaft})
		if err != nil {
			t.Fatal(err)
		}
		groups[id] = in
	}
	for _, id := range ids {
		states[id], dirs[id] = newSetState(), t.TempDir()
	}
	for _, id := range ids {
		start(id)
	}
	for _, id := range ids {
		for other, o := range trans {
			trans[id].Connect(raft.ServerAddress(other), o)
		}
	}
	t.Cleanup(func() {
		for _, g := range groups {
			if g != nil {
				g.Close()
			}
		}
	})
	leader := func() *Inbox {
		var l *Inbox
		testutil.WaitFor(t, 10*time.Second, "an inbox leader", func() bool {
			for _, g := range groups {
				if g != nil && g.IsLeader() {
					l = g
					return true
				}
			}
			return false
		})
		return l
	}
	apply := func(data string) any {
		t.Helper()
		for attempt := 0; ; attempt++ {
			res, _, err := leader().Apply(context.Background(), []byte(data))
			if err == nil {
				return res
			}
			if attempt == 50 {
				t.Fatal(err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for i := range 20 {
		apply(fmt.Sprintf("hit-%d", i))
	}
	if got := apply("hit-3"); got != 3 {
		t.Fatalf("a repeated entry answered %v, want 3 as the first time", got)
	}
	testutil.WaitFor(t, 10*time.Second, "every state to hold the 20 entries", func() bool {
		return states["a"].len() == 20 && states["b"].len() == 20 && states["c"].len() == 20
	})

	// "c" goes down; the log moves on and is compacted past where c stopped.
	var down string
	for _, id := range ids {
		if !groups[id].IsLeader() {
			down = id
			break
		}
	}
	groups[down].Close()
	groups[down] = nil
	for _, o := range trans {
		o.Disconnect(raft.ServerAddress(down))
	}
	for i := 20; i < 40; i++ {
		apply(fmt.Sprintf("hit-%d", i))
	}
	if err := leader().Snapshot(); err != nil {
		t.Fatal(err)
	}
	start(down)
	testutil.WaitFor(t, 20*time.Second, down+" to catch up", func() bool { return states[down].len() == 40 })
	states[down].mu.Lock()
	restores := states[down].restores
	states[down].mu.Unlock()
	if restores == 0 {
		t.Fatalf("%s caught up without a snapshot: the test did not compact the log past it", down)
	}
}
