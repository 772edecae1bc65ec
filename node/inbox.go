package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// The General Secretariat's inbox is one raft group among the central nodes (replication's inbox
// group), whose state is each central node's hit store: a hit, decision or trace request stored
// for the GS is committed on a quorum of them before the GS receipt is given, and every central
// node applies it (notify/inbox.go). A central node that receives one and does not lead the group
// hands it to the leader (a message of kind "inbox", central to central only); without a leader
// it answers unavailable, and the sender tries the next central node. See DESIGN.md, "The GS
// inbox".

// inboxTimeout bounds the wait for an inbox entry to commit: shorter than a sender's 3 s per
// central node, so a sender whose first central node cannot commit still tries the next.
const inboxTimeout = 2500 * time.Millisecond

// inboxState is the inbox group's state: this node's hit store.
type inboxState struct{ hits *notify.Store }

func (s inboxState) InboxApplied() uint64 { return s.hits.InboxApplied() }

func (s inboxState) ApplyInbox(entries []replication.InboxEntry) ([]any, error) {
	data := make([][]byte, len(entries))
	for i, e := range entries {
		data[i] = e.Data
	}
	outs, err := s.hits.ApplyInbox(data, entries[len(entries)-1].Index)
	if err != nil {
		return nil, err
	}
	res := make([]any, len(outs))
	for i, o := range outs {
		res[i] = o
	}
	return res, nil
}

func (s inboxState) SnapshotInbox() (replication.InboxSnapshot, error) {
	return s.hits.SnapshotInbox(), nil
}

func (s inboxState) RestoreInbox(index uint64, r io.Reader) error {
	return s.hits.RestoreInbox(index, r)
}

// toInbox orders it in the GS inbox, here when this node leads the group, through the leader
// otherwise, and returns what applying it did.
func (n *Node) toInbox(ctx context.Context, it notify.InboxItem) (notify.InboxOutcome, error) {
	in := n.fed.inbox
	if in == nil {
		return notify.InboxOutcome{}, wire.Errorf(wire.Unavailable, "unavailable", "%s keeps no GS inbox", n.cfg.Name).Retry(1)
	}
	it.V = notify.InboxFormat
	ctx, cancel := context.WithTimeout(ctx, inboxTimeout)
	defer cancel()
	// An election (the leader was lost) takes about a second: wait for it within the bound rather
	// than send the sender to the next central node, which waits for the same election.
	var err error
	for {
		if in.IsLeader() {
			o, _, err := n.orderInbox(ctx, it)
			return o, err
		}
		var ans messageAnswer
		if ans, err = n.forwardInbox(ctx, it); err == nil {
			// Committed: this node answers once it holds the item too (within the same bound;
			// past it, the item is still committed and arrives here with the log).
			for n.hits.InboxApplied() < ans.InboxIndex && ctx.Err() == nil {
				select {
				case <-ctx.Done():
				case <-time.After(2 * time.Millisecond): // wall clock: a poll of raft's apply, not a time the node keeps
				}
			}
			return notify.InboxOutcome{StoredAt: ans.StoredAt, Winner: ans.Decision}, nil
		}
		if refusedBy(err) || wire.As(err).Kind == wire.Invalid {
			return notify.InboxOutcome{}, err
		}
		select {
		case <-ctx.Done():
			return notify.InboxOutcome{}, err
		case <-time.After(50 * time.Millisecond): // wall clock: waits on raft's election, as a forwarded write does
		}
	}
}

// forwardInbox hands it to the inbox's leader.
func (n *Node) forwardInbox(ctx context.Context, it notify.InboxItem) (messageAnswer, error) {
	id, _ := n.fed.inbox.Leader()
	e, ok := n.fed.roster.ByName(string(id))
	if id == "" || !ok {
		return messageAnswer{}, wire.Errorf(wire.Unavailable, "unavailable", "the GS inbox has no leader %s can reach now", n.cfg.Name).Retry(1)
	}
	ans, err := n.sendToCtx(ctx, []peer.ID{e.PeerID}, message{Kind: "inbox", Inbox: &it})
	if err != nil {
		return ans, fmt.Errorf("gs inbox through %s: %w", id, err)
	}
	return ans, nil
}

// orderInbox commits it through raft on this node, the leader; the leader's clock stamps a new
// hit's or trace's GS receipt.
func (n *Node) orderInbox(ctx context.Context, it notify.InboxItem) (notify.InboxOutcome, uint64, error) {
	if it.At.IsZero() {
		it.At = n.now().UTC()
	}
	data, err := json.Marshal(it)
	if err != nil {
		return notify.InboxOutcome{}, 0, fmt.Errorf("gs inbox: %w", err)
	}
	res, index, err := n.fed.inbox.Apply(ctx, data)
	if err != nil {
		return notify.InboxOutcome{}, 0, apiError(err)
	}
	o, ok := res.(notify.InboxOutcome)
	if !ok {
		return notify.InboxOutcome{}, 0, fmt.Errorf("gs inbox: unexpected result %T", res)
	}
	if o.Refused != "" {
		return o, 0, wire.Errorf(wire.Invalid, "malformed", "gs inbox: %s", o.Refused)
	}
	return o, index, nil
}

// receiveInbox orders an inbox item another central node hands to this one, the leader. Only a
// central node hands items over (each one checked what it received from whom, as every central
// node does); the item itself is checked again when applied.
func (n *Node) receiveInbox(ctx context.Context, from transport.Entry, m *message) (any, error) {
	if from.Role != transport.RoleCentral {
		return nil, refuse(wire.Forbidden, "wrong_sender", "%s (%s) is no central node: it hands no item to the GS inbox", from.Name, from.Role)
	}
	if m.Inbox == nil {
		return nil, refuse(wire.Invalid, "malformed", "inbox item missing")
	}
	if n.fed.inbox == nil || !n.fed.inbox.IsLeader() {
		return nil, wire.Errorf(wire.Unavailable, "unavailable", "%s does not lead the GS inbox now", n.cfg.Name).Retry(1)
	}
	ctx, cancel := context.WithTimeout(ctx, inboxTimeout)
	defer cancel()
	it := *m.Inbox
	it.V = notify.InboxFormat
	o, index, err := n.orderInbox(ctx, it)
	if err != nil {
		return nil, err
	}
	return messageAnswer{StoredAt: o.StoredAt, Decision: o.Winner, InboxIndex: index}, nil
}

// inboxItemOfHit is the inbox item that stores a hit for the GS.
func inboxItemOfHit(h *notify.Hit) notify.InboxItem {
	return notify.InboxItem{Kind: notify.InboxHit, Hit: h}
}
