package node

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/transport"
)

// Raft only from the group, and each RPC only from its rightful sender. Central members are the
// voters of every group; NCBs and edges are non-voters, and a non-voter never initiates a raft RPC
// (its answers travel back on the streams the leader dialled). So an incoming raft stream is
// accepted only from a central member that is a voter of the group's configuration (once the group
// has one), and each RPC on it must name that member as its sender: header ID its roster name,
// header Addr its server address (peer id), and the legacy Leader or Candidate, when set, that
// address too. hashicorp/raft believes these fields, so a stream from anyone else, or an RPC
// naming another sender, is reset before raft reads it (transport/raft_guard.go).

// raftServers is a raft group whose configuration the guard reads (a shard group, the control
// group); raft keeps its latest configuration in an atomic, so reading it per RPC is cheap.
type raftServers interface {
	Servers() ([]raft.Server, error)
}

// raftGuard is the transport.RaftAuthorizer of one of this node's raft groups.
type raftGuard struct {
	f *fed
	// group is the raft group's open instance; nil until it has opened, when only the roster role
	// is checked (the group is being bootstrapped or has no configuration yet).
	group atomic.Pointer[raftServers]
}

var _ transport.RaftAuthorizer = (*raftGuard)(nil)

// track makes the guard check voters against g's configuration from now on.
func (gd *raftGuard) track(g raftServers) { gd.group.Store(&g) }

// voter checks that from may initiate raft RPCs in the group and returns its roster name.
func (gd *raftGuard) voter(from peer.ID) (string, error) {
	e, ok := gd.f.roster.Get(from)
	if !ok {
		return "", &transport.RaftRefusal{Reason: "not_member", Err: errors.New("not in the roster")}
	}
	if e.Role != transport.RoleCentral {
		return "", &transport.RaftRefusal{Reason: "not_voter", Err: fmt.Errorf("%s is a non-voter (role %s): it never initiates raft", e.Name, e.Role)}
	}
	g := gd.group.Load()
	if g == nil {
		return e.Name, nil
	}
	servers, err := (*g).Servers()
	if err != nil || len(servers) == 0 {
		return e.Name, nil
	}
	for _, s := range servers {
		if s.ID == raft.ServerID(e.Name) && s.Address == transport.ServerAddress(from) && s.Suffrage == raft.Voter {
			return e.Name, nil
		}
	}
	return "", &transport.RaftRefusal{Reason: "not_voter", Err: fmt.Errorf("%s is not a voter of the group", e.Name)}
}

// AuthorizeStream accepts a raft stream from a voter of the group only.
func (gd *raftGuard) AuthorizeStream(_ string, from peer.ID) error {
	_, err := gd.voter(from)
	return err
}

// AuthorizeRPC accepts an RPC from a voter that names itself as the sender.
func (gd *raftGuard) AuthorizeRPC(_ string, from peer.ID, rpc transport.RaftRPC) error {
	name, err := gd.voter(from)
	if err != nil {
		return err
	}
	addr := string(transport.ServerAddress(from))
	switch {
	case rpc.ID != name:
		err = fmt.Errorf("%s names server id %q", rpc.Type, rpc.ID)
	case rpc.Addr != addr:
		err = fmt.Errorf("%s names address %q", rpc.Type, rpc.Addr)
	case rpc.Legacy != "" && rpc.Legacy != addr:
		err = fmt.Errorf("%s names leader or candidate %q", rpc.Type, rpc.Legacy)
	default:
		return nil
	}
	return &transport.RaftRefusal{Reason: "forged_sender", Err: err}
}

// RaftRefused records the refusal of a member's raft stream.
func (gd *raftGuard) RaftRefused(group string, from peer.ID, reason string, err error) {
	if gd.f.refused != nil {
		gd.f.refused(from, transport.ProtoRaft, reason, fmt.Errorf("raft group %s: %w", group, err))
	}
}

// raftLayer opens the stream layer of a raft group, guarded; track the group on the guard once it
// has opened.
func (f *fed) raftLayer(group string) (*transport.RaftLayer, *raftGuard, error) {
	gd := &raftGuard{f: f}
	layer, err := transport.NewRaftLayerWithConfig(f.host, transport.RaftLayerConfig{Group: group, Authorizer: gd,
		Partials: f.partials})
	if err != nil {
		return nil, nil, err
	}
	return layer, gd, nil
}

// snapshotPartialsDir holds the snapshots a node is receiving, so that a transfer cut part way
// resumes (transport/raft_partial.go): DATA/raft-partial.
func snapshotPartialsDir(dataDir string) string { return filepath.Join(dataDir, "raft-partial") }

// openSnapshotPartials opens the partial-snapshot directory; without one (it cannot be made) the
// node still receives snapshots, but a cut one starts again from zero.
func openSnapshotPartials(dataDir string, log *slog.Logger) *transport.SnapshotPartials {
	ps, err := transport.NewSnapshotPartials(snapshotPartialsDir(dataDir), 0, 0, log)
	if err != nil {
		log.Warn("snapshots will not resume", "err", err)
		return nil
	}
	return ps
}
