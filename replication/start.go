package replication

import (
	"fmt"
	"log/slog"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/internal/seal"
)

// raftSetup is what starting a group's raft takes besides its FSM and log store: the fields a
// GroupConfig and a ControlConfig share.
type raftSetup struct {
	dir, localID      string
	key               *seal.Key // seals snapshot files (nil: plain)
	transport         raft.Transport
	bootstrap         bool
	voters            []raft.Server
	snapshotThreshold uint64
	trailingLogs      uint64
	tune              func(*raft.Config)
	batchApply        bool
}

// startRaft starts raft for fsm over logs, with file snapshots in s.dir, bootstrapping the group
// first when asked to and it has no state yet (with s.voters, or this node alone). The state files
// are durable and know their applied index, so a restart does not reload the last snapshot: raft
// replays only the entries after it and the FSMs skip those they already hold.
//
// The transport raft gets is wrapped so that the returned followers hear what each follower's
// answers say of its log (progress.go).
func startRaft(s raftSetup, lg *slog.Logger, fsm raft.FSM, logs *LogStore) (*raft.Raft, raft.Transport, *followers, error) {
	files, err := raft.NewFileSnapshotStore(s.dir, 2, &hclogWriter{log: lg.With("subsystem", "raft")})
	if err != nil {
		return nil, nil, nil, err
	}
	var snaps raft.SnapshotStore = files
	if s.key != nil {
		snaps = sealedSnapshots{FileSnapshotStore: files, key: s.key}
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(s.localID)
	rc.Logger = newHCLogger(lg.With("subsystem", "raft"))
	rc.BatchApplyCh = s.batchApply
	rc.NoSnapshotRestoreOnStart = true
	if s.snapshotThreshold > 0 {
		rc.SnapshotThreshold = s.snapshotThreshold
	}
	if s.trailingLogs > 0 {
		rc.TrailingLogs = s.trailingLogs
	}
	if s.tune != nil {
		s.tune(rc)
	}
	trans := s.transport
	if trans == nil {
		_, trans = raft.NewInmemTransport(raft.ServerAddress(s.localID))
	}
	fl := &followers{}
	trans = withProgress(trans, fl)
	if s.bootstrap {
		has, err := raft.HasExistingState(logs, logs, snaps)
		if err != nil {
			return nil, nil, nil, err
		}
		if !has {
			voters := s.voters
			if len(voters) == 0 {
				voters = []raft.Server{{Suffrage: raft.Voter, ID: rc.LocalID, Address: trans.LocalAddr()}}
			}
			if err := raft.BootstrapCluster(rc, logs, logs, snaps, trans, raft.Configuration{Servers: voters}); err != nil {
				return nil, nil, nil, fmt.Errorf("bootstrap: %w", err)
			}
		}
	}
	r, err := raft.NewRaft(rc, fsm, logs, logs, snaps, trans)
	if err != nil {
		return nil, nil, nil, err
	}
	return r, trans, fl, nil
}
