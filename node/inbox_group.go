package node

import (
	"context"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// The GS inbox's raft group on a central node: opened with the other groups, its members kept
// equal to the roster's central members, and handed at start what this node stored for the GS
// before the inbox existed. What the group orders and how is inbox.go's.

// inboxDir is the inbox group's directory under the data dir.
func inboxDir(dataDir string) string { return filepath.Join(dataDir, "inbox") }

// openInbox starts this central node's member of the inbox group: the central members are its
// voters, and the only members.
func (n *Node) openInbox() error {
	f := n.fed
	if f == nil || f.self.Role != transport.RoleCentral {
		return nil
	}
	layer, guard, err := f.raftLayer("inbox")
	if err != nil {
		return err
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream: layer, MaxPool: 3, Timeout: 10 * time.Second,
		Logger: replication.HCLogger(f.log.With("subsystem", "raft-net", "group", "inbox"), "raft-net"),
	})
	f.inbox, err = replication.OpenInbox(replication.InboxConfig{
		Dir: inboxDir(n.cfg.DataDir), LocalID: n.cfg.Name, Transport: trans, Key: n.atRest.key,
		Bootstrap: f.bootstraps(), Voters: f.voters(), State: inboxState{hits: n.hits},
		Logger: f.log.With("subsystem", "replication"), Tune: tuneFederatedRaft,
	})
	if err != nil {
		_ = trans.Close()
		return err
	}
	guard.track(f.inbox)
	return nil
}

// closeInbox stops the inbox group; called once the host is closed, like the other groups.
func (n *Node) closeInbox() error {
	if n.fed == nil || n.fed.inbox == nil {
		return nil
	}
	return n.fed.inbox.Close()
}

// runInbox keeps the inbox group's members equal to the roster's central members (its leader
// removes one no longer in the roster; it has no non-voters), and hands the inbox what this node
// stored for the GS before the inbox existed (a federation upgraded in place): each such hit,
// decision and trace is proposed once, with the time it was first stored, until a full pass finds
// nothing missing.
func (n *Node) runInbox() {
	f := n.fed
	defer f.wg.Done()
	t := n.clock.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	migrated := n.hits.InboxMigrated()
	from := ""
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		// Central members only: a new one joins as a non-voter and is promoted once caught up,
		// as in every other group (central.go).
		f.syncMembers("inbox", f.inbox, func(e transport.Entry) bool { return e.Role == transport.RoleCentral }, nil)
		if migrated {
			continue
		}
		if id, _ := f.inbox.Leader(); id == "" {
			continue
		}
		var err error
		if from, err = n.migrateInbox(from); err != nil {
			n.log.Warn("handing this node's GS hits to the GS inbox; retrying", "subsystem", "inbox", "error", err)
			continue
		}
		if from == "" {
			if err := n.hits.SetInboxMigrated(); err != nil {
				n.log.Error("recording the GS inbox migration", "subsystem", "inbox", "error", err)
				continue
			}
			migrated = true
		}
	}
}

// migrateInbox proposes one page of what the inbox lacks, from hit id from, and returns where to
// go on ("" when the pass is over).
func (n *Node) migrateInbox(from string) (string, error) {
	items, next, err := n.hits.InboxMissing(from, 500)
	if err != nil {
		return from, err
	}
	for _, it := range items {
		if _, err := n.toInbox(context.Background(), it); err != nil {
			return from, err
		}
	}
	if len(items) > 0 {
		n.log.Info("GS items stored here before the inbox handed to it", "subsystem", "inbox", "items", len(items))
	}
	return next, nil
}
