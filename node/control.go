package node

import (
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// The control group carries the roster: admissions (signed entries) and revocations, both signed
// by the root key. The roster file is only the seed; at start the node applies the control state
// over it, and from then on mirrors every applied admission and revocation into transport.Roster,
// which the gater, the peerstore and the shard reconcile follow.

// controlDir is the control group's directory under the data dir.
func controlDir(cfg *config.Config) string { return filepath.Join(cfg.DataDir, "control") }

// rosterVerifier reads the control group's blobs: JSON of transport.SignedEntry and
// transport.SignedRevocation, verified against the root key. It is deterministic, as replication
// requires: the same blob gets the same answer on every member.
type rosterVerifier struct{ rootPub ed25519.PublicKey }

// VerifyAdmit checks a signed roster entry.
func (v rosterVerifier) VerifyAdmit(blob []byte) (replication.ControlEntry, error) {
	var se transport.SignedEntry
	if err := json.Unmarshal(blob, &se); err != nil {
		return replication.ControlEntry{}, fmt.Errorf("signed entry: %w", err)
	}
	if err := transport.VerifyEntry(v.rootPub, se); err != nil {
		return replication.ControlEntry{}, err
	}
	return replication.ControlEntry{PeerID: se.Entry.PeerID.String(), Name: se.Entry.Name, Serial: se.Entry.Serial}, nil
}

// VerifyRevoke checks a signed revocation.
func (v rosterVerifier) VerifyRevoke(blob []byte) (string, error) {
	var sr transport.SignedRevocation
	if err := json.Unmarshal(blob, &sr); err != nil {
		return "", fmt.Errorf("signed revocation: %w", err)
	}
	if err := transport.VerifyRevocation(v.rootPub, sr); err != nil {
		return "", err
	}
	return sr.Revocation.PeerID.String(), nil
}

// rosterMirror applies the control group's changes to the roster, in apply order.
type rosterMirror struct {
	self   peer.ID
	roster *transport.Roster
	log    *slog.Logger
	// revoked hears (without blocking) that this node's own revocation was applied.
	revoked chan<- struct{}
}

func (m rosterMirror) selfRevoked() {
	select {
	case m.revoked <- struct{}{}:
	default:
	}
}

// ControlApplied mirrors one admission or revocation.
func (m rosterMirror) ControlApplied(c replication.ControlChange) {
	switch c.Op {
	case replication.ControlAdmit:
		var se transport.SignedEntry
		if err := json.Unmarshal(c.Blob, &se); err != nil {
			m.log.Error("admitted entry does not decode", "index", c.Index, "error", err)
			return
		}
		if err := m.roster.Add(se); err != nil {
			// The control group checked the signature; what remains is a name this node's roster
			// file gives another peer.
			m.log.Error("admitted member not added to the roster", "member", c.Name, "peer", c.PeerID, "error", err)
			return
		}
		m.log.Info("member admitted", "member", c.Name, "peer", c.PeerID, "index", c.Index)
	case replication.ControlRevoke:
		id, err := peer.Decode(c.PeerID)
		if err != nil {
			m.log.Error("revoked peer id does not decode", "index", c.Index, "error", err)
			return
		}
		name := c.Name
		if e, ok := m.roster.Get(id); ok {
			name = e.Name // a member known from the roster file only
		}
		m.roster.Remove(id)
		if id == m.self {
			m.log.Error("this node has been revoked from the federation; it will not be admitted again", "index", c.Index)
			m.selfRevoked()
			return
		}
		m.log.Warn("member revoked", "member", name, "peer", c.PeerID, "index", c.Index)
	}
}

// ControlRestored re-applies the whole state after a snapshot replaced it.
func (m rosterMirror) ControlRestored(s replication.ControlState) {
	if err := applyControlState(m.roster, s, m.log); err != nil {
		m.log.Error("applying restored control state", "error", err)
	}
	for _, r := range s.Revoked {
		if r.PeerID == m.self.String() {
			m.selfRevoked()
		}
	}
}

// applyControlState lays st over the roster: revoked peers out (even when the roster file lists
// them), admitted entries in. Entries that do not decode or clash by name are logged and skipped:
// the control group is the authority, but one bad entry must not keep a node from starting.
func applyControlState(roster *transport.Roster, st replication.ControlState, log *slog.Logger) error {
	for _, r := range st.Revoked {
		id, err := peer.Decode(r.PeerID)
		if err != nil {
			return fmt.Errorf("control state: revoked peer id %q: %w", r.PeerID, err)
		}
		roster.Remove(id)
	}
	for _, m := range st.Members {
		var se transport.SignedEntry
		err := json.Unmarshal(m.Blob, &se)
		if err == nil {
			err = roster.Add(se)
		}
		if err != nil {
			log.Error("control state: admitted member not added to the roster", "member", m.Name, "peer", m.PeerID, "error", err)
		}
	}
	return nil
}

// seedFromControl applies the control state this node left on disk over the file roster, before
// the host starts admitting anyone.
func seedFromControl(cfg *config.Config, roster *transport.Roster, self peer.ID, log *slog.Logger) error {
	st, err := replication.ReadControlState(controlDir(cfg))
	if err != nil {
		return err
	}
	for _, r := range st.Revoked {
		if r.PeerID == self.String() {
			return fmt.Errorf("%w (peer id %s)", ErrRevoked, self)
		}
	}
	return applyControlState(roster, st, log)
}

// openControl starts this node's member of the control group over libp2p: central members are its
// voters (they bootstrap it, as they do the shard groups); the leader adds everyone else.
func (f *fed) openControl(cfg *config.Config) error {
	layer, guard, err := f.raftLayer("control")
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second,
		Logger: replication.HCLogger(f.log.With("subsystem", "raft-net", "group", "control"), "raft-net"),
	})
	f.selfRevoked = make(chan struct{}, 1)
	f.control, err = replication.OpenControl(replication.ControlConfig{
		Dir: controlDir(cfg), LocalID: cfg.Name, Transport: trans,
		Bootstrap: f.bootstraps(), Voters: f.voters(),
		Verifier: rosterVerifier{rootPub: f.roster.RootPub()},
		Observer: rosterMirror{self: f.id.ID, roster: f.roster, log: f.log, revoked: f.selfRevoked},
		Logger:   f.log.With("subsystem", "replication"),
		Tune:     tuneFederatedRaft,
	})
	if err != nil {
		_ = trans.Close()
		return err
	}
	guard.track(f.control)
	return nil
}

// closeControl stops the control group; called once the host is closed, like the shard groups.
func (f *fed) closeControl() error {
	if f.control == nil {
		return nil
	}
	return f.control.Close()
}

// startControl serves forwarded control writes; reconcile keeps the control group's members equal
// to the roster.
func (n *Node) startControl() error {
	return n.serveControl()
}
