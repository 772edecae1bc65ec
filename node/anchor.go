package node

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// Every member anchors its audit chain: it signs its head (seq, hash, time, its name) and hands it
// to a central node at once after start and then every anchorEvery, which commits it to the GS
// inbox as an item of kind anchor, so that every central node keeps it (notify/anchor.go). A chain
// rewritten or cut later, even by root on the member, no longer matches what the central nodes
// hold (internal/audit, VerifyAnchored). A central node anchors its own chain through the inbox
// directly. See DESIGN.md, "Anchored audit chains".

const (
	// anchorEvery is how often a member anchors its head while it reaches a central node.
	anchorEvery = time.Minute
	// anchorRetry is how soon a member tries again when no central node took its anchor.
	anchorRetry = 5 * time.Second
	// anchorProbeEvery is how long a central node trusts what it learned of another central
	// node's release (whether it keeps anchors).
	anchorProbeEvery = 10 * time.Minute
	// anchorPage bounds the anchors in one answer: a message answer is at most 64 KiB and an
	// anchor ~300 bytes in JSON.
	anchorPage = 150
)

// anchorer is a member's anchoring state.
type anchorer struct {
	mu sync.Mutex
	// old are the central nodes that refused the anchors message, by name, and when: a release
	// before anchors, which would refuse an anchor item in the inbox while the others apply it.
	old map[string]time.Time
	// probed is when each central node was last asked whether it keeps anchors.
	probed map[string]time.Time
}

func newAnchorer() *anchorer {
	return &anchorer{old: map[string]time.Time{}, probed: map[string]time.Time{}}
}

// runAnchors anchors this node's head at once after start, then every anchorEvery, and retries
// every anchorRetry until a central node takes it.
func (n *Node) runAnchors() {
	f := n.fed
	defer f.wg.Done()
	t := n.clock.NewTicker(anchorRetry)
	defer t.Stop()
	var last time.Time // when a central node last took this node's anchor
	for {
		if n.fed.inbox != nil {
			n.probeCentrals()
		}
		if last.IsZero() || n.since(last) >= anchorEvery {
			switch sent, err := n.anchorHead(); {
			case err != nil:
				n.log.Debug("anchoring the audit head; retrying", "subsystem", "anchor", "error", err)
			case sent:
				last = n.now()
			}
		}
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
	}
}

// anchorHead signs the audit chain's head and hands it to a central node (or, on a central node,
// to the GS inbox); sent is false, without an error, while the chain is empty.
func (n *Node) anchorHead() (sent bool, err error) {
	h, err := n.audit.Head()
	if err != nil {
		return false, err
	}
	if h.Seq == 0 {
		return false, nil // nothing to vouch for yet
	}
	a := notify.Anchor{Node: n.cfg.Name, Seq: h.Seq, Hash: h.Hash, Time: n.now().UTC()}
	if err := notify.SignAnchor(n.signer(), &a); err != nil {
		return false, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if n.fed.inbox != nil {
		if err := n.commitAnchor(ctx, a); err != nil {
			return false, err
		}
		return true, nil
	}
	targets := n.recipients(notify.RoleGS, "")
	if len(targets) == 0 {
		return false, errors.New("no central node in the roster")
	}
	if _, err := n.sendToCtx(ctx, targets, message{Kind: "anchor", Anchor: &a}); err != nil {
		return false, err
	}
	return true, nil
}

// commitAnchor orders a checked anchor in the GS inbox, once every central node keeps anchors.
func (n *Node) commitAnchor(ctx context.Context, a notify.Anchor) error {
	if old := n.centralsWithoutAnchors(); len(old) > 0 {
		return wire.Errorf(wire.Unavailable, "unavailable", "central nodes %v run a release that keeps no anchors: anchors wait for their upgrade", old).Retry(60)
	}
	_, err := n.toInbox(ctx, notify.InboxItem{Kind: notify.InboxAnchor, Anchor: &a})
	if err != nil && wire.As(err).Kind == wire.Invalid {
		// A second hash for an anchored seq: the chain was rewritten since. The first is kept.
		n.log.Warn("anchor refused by the GS inbox", "subsystem", "anchor", "node", a.Node, "seq", a.Seq, "error", err)
	}
	return err
}

// centralsWithoutAnchors are the central nodes that said, within anchorProbeEvery, that they do
// not know the anchors message. One not reached is not counted: its release is unknown, and
// holding every anchor back while a central node is down would leave every chain unanchored.
func (n *Node) centralsWithoutAnchors() []string {
	an := n.fed.anchors
	an.mu.Lock()
	defer an.mu.Unlock()
	var out []string
	for name, at := range an.old {
		if _, ok := n.fed.roster.ByName(name); ok && n.since(at) < anchorProbeEvery {
			out = append(out, name)
		}
	}
	return out
}

// probeCentrals asks each other central node, at most every anchorProbeEvery, for this node's
// anchors: a release before anchors refuses the message kind.
func (n *Node) probeCentrals() {
	an := n.fed.anchors
	for _, e := range n.fed.roster.List() {
		if e.Role != transport.RoleCentral || e.PeerID == n.fed.id.ID {
			continue
		}
		an.mu.Lock()
		due := an.probed[e.Name].IsZero() || n.since(an.probed[e.Name]) >= anchorProbeEvery
		an.mu.Unlock()
		if !due {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		_, err := n.sendToCtx(ctx, []peer.ID{e.PeerID}, message{Kind: "anchors", Node: n.cfg.Name, After: ^uint64(0)})
		cancel()
		an.mu.Lock()
		switch {
		case err == nil:
			an.probed[e.Name] = n.now()
			delete(an.old, e.Name)
		case wire.As(err).Kind == wire.Invalid:
			an.probed[e.Name] = n.now()
			an.old[e.Name] = n.now()
		}
		an.mu.Unlock()
	}
}

// centralAnchors fetches the anchors of node from the central nodes: from this node's store on a
// central node, else from the first central node that answers, page by page.
func (n *Node) centralAnchors(ctx context.Context, node string) ([]notify.Anchor, error) {
	if n.fed == nil {
		return nil, nil
	}
	if n.fed.inbox != nil {
		return n.hits.Anchors(node)
	}
	var out []notify.Anchor
	var after uint64
	for {
		ans, err := n.sendToCtx(ctx, n.recipients(notify.RoleGS, ""), message{Kind: "anchors", Node: node, After: after})
		if err != nil {
			return nil, err
		}
		out = append(out, ans.Anchors...)
		if len(ans.Anchors) < anchorPage {
			return out, nil
		}
		after = ans.Anchors[len(ans.Anchors)-1].Seq
	}
}

// auditAnchors are the anchors of node in the audit package's terms.
func auditAnchors(as []notify.Anchor) []audit.Anchor {
	out := make([]audit.Anchor, len(as))
	for i, a := range as {
		out[i] = audit.Anchor{Seq: a.Seq, Hash: a.Hash, Time: a.Time}
	}
	return out
}
