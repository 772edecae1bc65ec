package node

import (
	"context"
	"time"

	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/transport"
)

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
		f.syncMembers("inbox", f.inbox, func(transport.Entry) bool { return false })
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

// inboxItemOfHit is the inbox item that stores a hit for the GS.
func inboxItemOfHit(h *notify.Hit) notify.InboxItem {
	return notify.InboxItem{Kind: notify.InboxHit, Hit: h}
}
