package replication

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/hashicorp/raft"
)

// ControlVerifier reads the signed blobs the control group carries; replication cannot (it must
// not import transport). Every replica calls it again when it applies an entry, so its answer must
// depend only on the blob (and fixed configuration such as the root key): no clock, no I/O.
type ControlVerifier interface {
	// VerifyAdmit checks a signed roster entry and returns what the control state keys and orders
	// it by.
	VerifyAdmit(blob []byte) (ControlEntry, error)
	// VerifyRevoke checks a signed revocation and returns the revoked peer id.
	VerifyRevoke(blob []byte) (peerID string, err error)
}

// ControlEntry is what the control state needs of a signed roster entry.
type ControlEntry struct {
	PeerID string
	Name   string
	// Serial orders a member's entries (0: signed before entries carried serials).
	Serial uint64
}

// ControlObserver learns of every applied change once it is durable, in apply order, from raft's
// FSM goroutine, one call at a time. The node mirrors the changes into its roster.
type ControlObserver interface {
	// ControlApplied reports one admission or revocation that changed the state.
	ControlApplied(c ControlChange)
	// ControlRestored reports that the state was replaced by a snapshot.
	ControlRestored(s ControlState)
}

// controlFSM is the raft.FSM of the control group: decide, then make durable, then tell.
type controlFSM struct {
	store    *controlStore
	verifier ControlVerifier
	observer ControlObserver
	log      *slog.Logger
	// halt is set while the state file cannot be written (see halt.go); retryMin and retryMax
	// bound the backoff between attempts.
	halt               *halter
	retryMin, retryMax time.Duration
}

var _ raft.FSM = (*controlFSM)(nil)

// newControlFSM is the control group's FSM over store; a storage error halts it (see halt.go).
func newControlFSM(store *controlStore, v ControlVerifier, obs ControlObserver, log *slog.Logger) *controlFSM {
	return &controlFSM{store: store, verifier: v, observer: obs, log: log, halt: newHalter(),
		retryMin: 100 * time.Millisecond, retryMax: 10 * time.Second}
}

// Apply applies one committed control entry. A refused command still advances the applied index,
// so every replica refuses it the same way and moves on.
func (f *controlFSM) Apply(l *raft.Log) any {
	if l.Index <= f.store.appliedIndex() {
		return nil // replayed after a restart: already in the state file
	}
	var cmd ControlCommand
	var c ControlChange
	var changed bool
	err := json.Unmarshal(l.Data, &cmd)
	if err == nil && f.haltOnFormat(l, cmd) {
		return ErrClosed
	}
	if err != nil {
		err = fmt.Errorf("%w: entry %d: %w", ErrControlRefused, l.Index, err)
	} else {
		c, changed, err = f.store.decide(f.verifier, cmd)
	}
	if err != nil {
		f.log.Warn("control command refused", "index", l.Index, "op", cmd.Op, "error", err)
		changed = false
	}
	c.Index = l.Index
	if !f.applyDurably(l, &c, changed) {
		return ErrClosed
	}
	if err != nil {
		return err
	}
	if changed && f.observer != nil {
		f.observer.ControlApplied(c)
	}
	return ControlResult{Index: l.Index, PeerID: c.PeerID, Name: c.Name, Changed: changed}
}

// applyDurably writes the entry's outcome to the state file. When the file cannot be written (disk
// full, I/O error) the replica must not go on as if it had applied, nor crash: the control group
// halts here and tries again with backoff until the write succeeds, or the group closes (false).
func (f *controlFSM) applyDurably(l *raft.Log, c *ControlChange, changed bool) bool {
	backoff := f.retryMin
	for attempt := 0; ; attempt++ {
		err := f.store.apply(l.Index, l.Term, c, changed)
		if err == nil {
			if attempt > 0 {
				f.halt.clear()
				f.log.Info("control group resumed applying", "index", l.Index, "attempts", attempt+1)
			}
			return true
		}
		f.halt.set(fmt.Sprintf("control state file cannot be written: %v", err), l.Index, time.Now())
		if attempt == 0 || backoff == f.retryMax {
			f.log.Error("control group halted: state file cannot be written; retrying", "index", l.Index, "error", err, "retry_in", backoff)
		}
		f.halt.handOffLeadership()
		if !f.halt.wait(backoff) {
			return false
		}
		backoff = min(2*backoff, f.retryMax)
	}
}

// Snapshot copies the state; it is small (one entry per member). It refuses once the group is
// closing, for the reason the shard FSM does: entries a halt left unapplied must not be compacted.
func (f *controlFSM) Snapshot() (raft.FSMSnapshot, error) {
	if f.halt.closed() {
		return nil, ErrClosed
	}
	return controlSnapshot{st: f.store.state()}, nil
}

// Restore replaces the state with a snapshot's, verified entry by entry (see verifiedRestore): an
// entry that does not verify is dropped, and no revocation this node applied is ever lost.
func (f *controlFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var snap controlSnapshotFile
	if err := json.NewDecoder(io.LimitReader(rc, maxControlSnapshot)).Decode(&snap); err != nil {
		return fmt.Errorf("restore control snapshot: %w", err)
	}
	if snap.Format != controlSnapshotFormat {
		return fmt.Errorf("restore control snapshot: format %q, want %q", snap.Format, controlSnapshotFormat)
	}
	cur := f.store.state()
	st, refused := verifiedRestore(f.verifier, cur, snap.State)
	st.Upgrade = mergeUpgrade(cur.Upgrade, snap.State.Upgrade)
	for _, r := range refused {
		f.log.Warn("control snapshot: entry refused", "kind", r.kind, "peer", r.peerID, "error", r.err)
	}
	if err := f.store.replace(st); err != nil {
		return err
	}
	if f.observer != nil {
		f.observer.ControlRestored(f.store.state())
	}
	return nil
}

const controlSnapshotFormat = "fedarms-control/1"

// controlSnapshotFile is the snapshot stream: one JSON document.
type controlSnapshotFile struct {
	Format string       `json:"format"`
	State  ControlState `json:"state"`
}

type controlSnapshot struct{ st ControlState }

func (s controlSnapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(controlSnapshotFile{Format: controlSnapshotFormat, State: s.st}); err != nil {
		sink.Cancel()
		return fmt.Errorf("persist control snapshot: %w", err)
	}
	return sink.Close()
}

func (controlSnapshot) Release() {}
