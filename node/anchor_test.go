package node

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/audit"
	fedtest "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

var centralNames = []string{"lyon-1", "lyon-2", "lyon-3"}

// anchoredEverywhere reports whether every central node holds an anchor of node at seq.
func (fc *fedCluster) anchoredEverywhere(node string, seq uint64) bool {
	for _, c := range centralNames {
		as, err := fc.nodes[c].AuditAnchors(node)
		if err != nil || len(as) == 0 || as[len(as)-1].Seq < seq {
			return false
		}
	}
	return true
}

func appendAudit(t *testing.T, n *Node, action string) uint64 {
	t.Helper()
	e, err := n.audit.Append(audit.Entry{Agency: "TEST", Action: action, Outcome: "ok"}).Wait(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return e.Seq
}

// TestAnchorsReachEveryCentralNode: an edge's and a central node's audit heads reach the three
// central nodes through the GS inbox, the edge's verification checks its chain against them, and
// a forged anchor (another node's name, a wrong signer, none) is refused everywhere.
func TestAnchorsReachEveryCentralNode(t *testing.T) {
	fc := startFederation(t, fedSpecs(), nil)
	edge, central := fc.nodes["edge-cdg"], fc.nodes["lyon-2"]
	for _, n := range []*Node{edge, central} {
		seq := appendAudit(t, n, "test.anchor")
		// The loop anchors every minute; this is the same step, taken now.
		fedtest.WaitFor(t, 60*time.Second, n.cfg.Name+"'s head to be anchored", func() bool {
			if sent, err := n.anchorHead(); err != nil || !sent {
				return false
			}
			return true
		})
		fedtest.WaitFor(t, 30*time.Second, n.cfg.Name+"'s anchor at every central node", func() bool {
			return fc.anchoredEverywhere(n.cfg.Name, seq)
		})
	}
	as, _ := fc.nodes["lyon-3"].AuditAnchors("edge-cdg")
	last := as[len(as)-1]
	if last.Sig == nil || last.Sig.Signer != "edge-cdg" || last.Node != "edge-cdg" {
		t.Fatalf("anchor held: %+v", last)
	}

	// Online: the edge fetches its anchors from a central node.
	rep, err := edge.VerifyAudit()
	if err != nil || !rep.OK() || rep.Anchors == 0 {
		t.Fatalf("edge verify: %+v, %v", rep, err)
	}

	// Forgeries, sent by edge-cdg (a member of the roster) to a central node.
	victim := fc.nodes["edge-nbo"]
	head, err := victim.audit.Head()
	if err != nil {
		t.Fatal(err)
	}
	forged := func(signWith notify.Signer, edit func(a *notify.Anchor)) *notify.Anchor {
		a := notify.Anchor{Node: "edge-nbo", Seq: head.Seq + 1000, Hash: strings.Repeat("ab", 32), Time: time.Now().UTC()}
		if signWith != nil {
			if err := notify.SignAnchor(signWith, &a); err != nil {
				t.Fatal(err)
			}
		}
		if edit != nil {
			edit(&a)
		}
		return &a
	}
	lyon1 := fc.nodes["lyon-1"].fed.id.ID
	for name, a := range map[string]*notify.Anchor{
		// Signed by the sender under the victim's name.
		"another node's name": forged(edge.signer(), func(a *notify.Anchor) { a.Sig.Signer = "edge-nbo" }),
		// Signed by the sender as itself, naming the victim.
		"wrong signer": forged(edge.signer(), func(a *notify.Anchor) { a.Sig.Signer = "edge-cdg" }),
		"unsigned":     forged(nil, nil),
		// The victim's real signature over other content.
		"content changed": forged(victim.signer(), func(a *notify.Anchor) { a.Seq++ }),
	} {
		_, err := edge.sendToCtx(context.Background(), []peer.ID{lyon1}, message{Kind: "anchor", Anchor: a})
		if err == nil || wire.As(err).Kind != wire.Forbidden {
			t.Errorf("%s: %v, want it refused as forbidden", name, err)
		}
	}
	// A member reads its own anchors only.
	if _, err := edge.sendToCtx(context.Background(), []peer.ID{lyon1}, message{Kind: "anchors", Node: "edge-nbo"}); err == nil || wire.As(err).Kind != wire.Forbidden {
		t.Errorf("edge-cdg read edge-nbo's anchors: %v", err)
	}
	// A carrier may hand over another node's anchor that bears that node's signature.
	carried := &notify.Anchor{Node: "edge-nbo", Seq: head.Seq + 2000, Hash: strings.Repeat("cd", 32), Time: time.Now().UTC()}
	if err := notify.SignAnchor(victim.signer(), carried); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.sendToCtx(context.Background(), []peer.ID{lyon1}, message{Kind: "anchor", Anchor: carried}); err != nil {
		t.Fatalf("a carried anchor signed by its node: %v", err)
	}
	fedtest.WaitFor(t, 30*time.Second, "the carried anchor at every central node", func() bool {
		return fc.anchoredEverywhere("edge-nbo", carried.Seq)
	})
	for _, c := range centralNames {
		as, _ := fc.nodes[c].AuditAnchors("edge-nbo")
		for _, a := range as {
			if a.Seq == head.Seq+1000 || a.Seq == head.Seq+1001 {
				t.Errorf("%s holds a forged anchor of edge-nbo: %+v", c, a)
			}
		}
	}
	// While a central node of an older release (one that refused the anchors message) is in the
	// roster, lyon-1 holds anchors back rather than commit an item that replica would refuse.
	an := fc.nodes["lyon-1"].fed.anchors
	an.mu.Lock()
	an.old["lyon-3"] = fc.nodes["lyon-1"].now()
	an.mu.Unlock()
	held := &notify.Anchor{Node: "edge-nbo", Seq: head.Seq + 3000, Hash: strings.Repeat("ef", 32), Time: time.Now().UTC()}
	if err := notify.SignAnchor(victim.signer(), held); err != nil {
		t.Fatal(err)
	}
	if _, err := edge.sendToCtx(context.Background(), []peer.ID{lyon1}, message{Kind: "anchor", Anchor: held}); err == nil || wire.As(err).Kind != wire.Unavailable {
		t.Errorf("an anchor while lyon-3 keeps none: %v, want unavailable", err)
	}
	an.mu.Lock()
	delete(an.old, "lyon-3")
	an.mu.Unlock()

	// The victim's chain does not reach the carried anchor's seq: its verification says so.
	rep, err = victim.VerifyAudit()
	if err != nil || rep.OK() || rep.Problems[len(rep.Problems)-1].Kind != audit.KindAnchorCut {
		t.Fatalf("edge-nbo verify against an anchor beyond its chain: %+v, %v", rep, err)
	}
}
