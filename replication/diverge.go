package replication

import (
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// A copy diverges from its group when it applied entries the group's current history does not
// hold. In one raft history that cannot happen: a committed entry stays at its index with its term
// in every later leader's log. It happens when a group is rebuilt from an earlier copy after its
// voters were lost (backup_recover.go): a holder that survived may have applied entries committed
// after that copy, and the rebuilt leader writes other entries, under a newer term, at the same
// indexes. Raft on the holder then replaces its log's suffix and hands the FSM entries at indexes
// it already applied; skipping them, as a replay after a restart is skipped, would keep records
// nobody else has and miss the rebuilt ones, for good and without a word.
//
// Raft on the holder hands the FSM only entries past the index it last applied, so the rebuilt
// entries at the indexes the copy already holds are never handed over while it runs; the first
// one handed over is the entry after its applied index. Before applying it, the FSM reads its own
// log at the applied index: an entry there under another term than the one applied proves the
// history changed under the copy (raft replaced the log's suffix). After a restart raft replays
// the log from its last snapshot, and an entry at an index already applied with a newer term than
// the last applied one is the same proof (terms never go down along a log). The shard then halts
// (halt.go): the copy is kept as it is and served marked stale, and the halt names the entries
// only this copy may hold. An operator decides: keep what it holds elsewhere (a backup of this
// node, compared with the rebuild's by `fedarms restore --report`), then rebuild this copy from
// the group.

// ErrDiverged is returned for a snapshot that would drop entries this copy applied.
var ErrDiverged = errors.New("this copy applied entries the group's history does not hold")

// diverged reports whether the entry at index with term, at or below st's applied index, belongs
// to another history than the one st applied.
func diverged(index, term uint64, st Stats) bool {
	if index > st.AppliedIndex || st.AppliedIndex == 0 {
		return false
	}
	if index == st.AppliedIndex {
		return term != st.AppliedTerm
	}
	return term > st.AppliedTerm
}

// replacedUnder reports whether the log entry at st's applied index now has another term than
// the one applied there: the log's suffix was replaced by another history. It returns the first
// index of the replaced entries (the rebuilt leader's terms are above every term of the old
// history, so they are walked back while above st's applied term) and the term found.
func (f *fsm) replacedUnder(st Stats) (from, term uint64, ok bool) {
	if f.logs == nil || st.AppliedIndex == 0 {
		return 0, 0, false
	}
	var e raft.Log
	if err := f.logs.GetLog(st.AppliedIndex, &e); err != nil || e.Term == st.AppliedTerm {
		return 0, 0, false // compacted away (a snapshot path, refuseOlderSnapshot) or the same history
	}
	from, term = st.AppliedIndex, e.Term
	for i := 0; i < maxDivergedWalk && from > 1; i++ {
		var prev raft.Log
		if err := f.logs.GetLog(from-1, &prev); err != nil || prev.Term <= st.AppliedTerm {
			break
		}
		from--
	}
	return from, term, true
}

// maxDivergedWalk bounds the walk back to the first replaced entry; beyond it the halt names a
// shorter range than there may be.
const maxDivergedWalk = 1 << 20

// haltDiverged halts the shard, until the group closes, on the entries from index to st's applied
// index, which the current history holds under term where this copy applied others.
func (f *fsm) haltDiverged(index, term uint64, st Stats, out []any) []any {
	reason := fmt.Sprintf("diverged: this copy applied entries up to index %d (term %d), and the group's leader now holds entry %d under term %d: "+
		"the group was rebuilt from an earlier copy, and entries %d to %d applied here (%d entries, %d records in this copy) may be held nowhere else. "+
		"They are kept, not applied over: take a backup of this node (fedarms backup) and compare it with the rebuild's (fedarms restore --report --survivor-backup), "+
		"then rebuild this copy from the group (stop the node, delete its shards/%s directory, start it)",
		st.AppliedIndex, st.AppliedTerm, index, term, index, st.AppliedIndex, st.AppliedIndex-index+1, st.Records, f.shard)
	f.halt.setDiverged(reason, index, st.AppliedIndex, time.Now())
	f.log.Error("shard halted: this copy holds entries the group's current history does not", "first", index, "last", st.AppliedIndex,
		"applied_term", st.AppliedTerm, "leader_term", term)
	for f.halt.wait(5 * time.Second) {
		f.halt.handOffLeadership()
	}
	return closedOut(out)
}

// refuseOlderSnapshot refuses a snapshot whose state stands behind what this copy applied, or at
// the same index under another term, and halts the shard: in one history a leader sends a
// snapshot only to a member whose log does not reach its own, and restoring would drop what this
// copy applied beyond it without a word. A rebuilt leader sends one to a survivor whose log no
// longer reaches back to the rebuild's copy.
func (f *fsm) refuseOlderSnapshot(snap Stats) error {
	cur := f.state.Stats()
	if cur.AppliedIndex == 0 || (snap.AppliedIndex > cur.AppliedIndex) || (snap.AppliedIndex == cur.AppliedIndex && snap.AppliedTerm == cur.AppliedTerm) {
		return nil
	}
	from := min(snap.AppliedIndex+1, cur.AppliedIndex) // at the same index under another term, that entry itself differs
	reason := fmt.Sprintf("diverged: this copy applied entries up to index %d (term %d), and the group's leader sent a snapshot at index %d (term %d): "+
		"entries %d to %d applied here (%d entries, %d records in this copy) may be held nowhere else. "+
		"The snapshot is refused and the copy kept: take a backup of this node (fedarms backup) and compare it with the rebuild's (fedarms restore --report --survivor-backup), "+
		"then rebuild this copy from the group (stop the node, delete its shards/%s directory, start it)",
		cur.AppliedIndex, cur.AppliedTerm, snap.AppliedIndex, snap.AppliedTerm, from, cur.AppliedIndex, cur.AppliedIndex-from+1, cur.Records, f.shard)
	f.halt.setDiverged(reason, from, cur.AppliedIndex, time.Now())
	f.log.Error("shard halted: refused a snapshot behind this copy", "snapshot_index", snap.AppliedIndex, "snapshot_term", snap.AppliedTerm,
		"applied_index", cur.AppliedIndex, "applied_term", cur.AppliedTerm)
	return fmt.Errorf("restore snapshot at index %d: %w", snap.AppliedIndex, ErrDiverged)
}
