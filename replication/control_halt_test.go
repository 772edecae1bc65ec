package replication

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// A control state file that cannot be written (a full disk) halts the control group on that node
// instead of panicking: it reports why, tries again, and once the write succeeds it resumes and
// holds what the others hold.
func TestControlHaltsOnAStorageErrorAndResumes(t *testing.T) {
	cc := newCtlCluster(t, 3, 1, clusterRaft)
	l := cc.waitLeader()
	follower := cc.members[3] // the non-voter
	follower.c.InjectWriteFaults(4, syscall.ENOSPC)
	ctx := context.Background()
	if _, err := l.c.Admit(ctx, cc.signer.sign("admit", "peer-a", "edge-a")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the follower to halt for lack of space", func() bool {
		h, ok := follower.c.Halted()
		return ok && strings.Contains(h.Reason, "no space left on device")
	})
	cc.converged(l) // the four faults are used up within the backoff, and the entry lands
	if _, halted := follower.c.Halted(); halted {
		t.Fatal("still halted after the write succeeded")
	}
	if st := follower.c.State(); len(st.Members) != 1 || st.Members[0].Name != "edge-a" {
		t.Fatalf("after resuming: %+v", st)
	}
}

// Closing a control group whose state file cannot be written does not hang: the wait for the disk
// ends when the group closes.
func TestControlCloseEndsAHalt(t *testing.T) {
	cc := newCtlCluster(t, 1, 1, clusterRaft)
	l := cc.waitLeader()
	follower := cc.members[1]
	follower.c.InjectWriteFaults(1<<30, syscall.EIO)
	if _, err := l.c.Admit(context.Background(), cc.signer.sign("admit", "peer-a", "edge-a")); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the follower to halt", func() bool { _, ok := follower.c.Halted(); return ok })
	done := make(chan error, 1)
	go func() { done <- follower.c.Close() }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Close of a halted control group did not return")
	}
}
