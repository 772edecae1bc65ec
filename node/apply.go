package node

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

type applyRequest struct {
	Shard   string `json:"shard"`
	Command []byte `json:"command"`
	Hops    int    `json:"hops"`
}

// apply orders a command on its shard: here when this node leads the shard's group, otherwise on
// the leader, over libp2p. It returns once the command is committed and, when this node holds the
// shard, applied to its own copy too (so the writer reads its own write).
//
// Every item is checked first (checkCommand): a bad one is refused as an item and costs no log
// entry. Below the data dir's free-space floor nothing is written (503 insufficient_storage).
func (n *Node) apply(ctx context.Context, shard string, cmd *replication.Command) (replication.Result, error) {
	kept, refused, pos := checkCommand(cmd)
	if commandItems(kept) == 0 && len(refused) > 0 {
		return replication.Result{Errors: refused}, nil
	}
	if err := n.checkHeadroom(); err != nil {
		return replication.Result{}, err
	}
	res, err := n.applyChecked(ctx, shard, kept)
	return mergeRefused(res, refused, pos), err
}

// applyValid is apply for a command whose every record the caller has just normalized and
// validated with the API's rules (the importer, writeOne): checking them again here would double
// the cost of an import for nothing. A forwarded command is always checked (serveApply), and the
// FSM checks every item again.
func (n *Node) applyValid(ctx context.Context, shard string, cmd *replication.Command) (replication.Result, error) {
	if err := n.checkHeadroom(); err != nil {
		return replication.Result{}, err
	}
	return n.applyChecked(ctx, shard, cmd)
}

// applyChecked orders a checked command. A shard halted here is written through another node: a
// halted leader hands its leadership away, and the forward retries until the new leader is known.
func (n *Node) applyChecked(ctx context.Context, shard string, cmd *replication.Command) (replication.Result, error) {
	g := n.groups[shard]
	if n.fed == nil || (g != nil && g.IsLeader() && !isHalted(g)) {
		if g == nil {
			return replication.Result{}, wire.Errorf(wire.Unavailable, "unavailable", "shard %s is not held by this node", shard)
		}
		return n.orderUnique(ctx, shard, g, cmd, "") // ids.go: no id of another shard
	}
	data, err := cmd.MarshalBinary()
	if err != nil {
		return replication.Result{}, err
	}
	var res replication.Result
	err = retryForward(ctx, func() (bool, error) {
		target, ok := n.writeTarget(shard)
		if !ok {
			return false, fmt.Errorf("shard %s: %w", shard, replication.ErrNotLeader)
		}
		if err := n.fed.call(ctx, target, transport.ProtoApply, applyRequest{Shard: shard, Command: data}, &res); err != nil {
			return !retriable(err), err
		}
		if g != nil && !isHalted(g) { // a halted copy would only delay the answer
			wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_ = g.WaitApplied(wctx, res.Index) // committed either way; a slow local copy only delays reads
			cancel()
		}
		return true, nil
	})
	return res, err
}

// retryForward calls try until it is done, ctx ends or 20 attempts have passed, 50-150 ms apart:
// while leadership settles a forwarded write finds no leader or is answered "unavailable". try
// reports done with the final error (nil on success); after the last attempt its last error is
// returned as ErrNotLeader.
func retryForward(ctx context.Context, try func() (done bool, err error)) error {
	var lastErr error
	for range 20 {
		done, err := try()
		if done {
			return err
		}
		lastErr = err
		select {
		case <-ctx.Done():
			return ctx.Err()
		// wall clock: the pause waits on raft electing a leader, which runs on the wall clock.
		case <-time.After(time.Duration(50+rand.IntN(100)) * time.Millisecond):
		}
	}
	if errors.Is(lastErr, replication.ErrNotLeader) {
		return lastErr
	}
	return fmt.Errorf("%w (last: %v)", replication.ErrNotLeader, lastErr)
}

// retriable reports whether a forwarded write's error may go away by itself: a network error, or
// the peer answering "unavailable" (a leader change). Any other answer is final.
func retriable(err error) bool {
	var re rpcError
	return !errors.As(err, &re) || re.remote.Code == "unavailable"
}

// writeTarget is the peer to send a write of shard to: its leader when known, else a central node.
func (n *Node) writeTarget(shard string) (peer.ID, bool) {
	var leader raft.ServerID
	if g := n.groups[shard]; g != nil {
		leader, _ = g.Leader()
	}
	return n.fed.forwardTarget(leader)
}

// forwardTarget is the peer to forward a write to: the group's leader when known (and not this
// node), else a central node at random, which forwards it on or answers that there is no leader.
func (f *fed) forwardTarget(leader raft.ServerID) (peer.ID, bool) {
	if leader != "" {
		if p, ok := f.peerOf(string(leader)); ok && p != f.id.ID {
			return p, true
		}
	}
	var centrals []peer.ID
	for _, e := range f.roster.List() {
		if e.Role == transport.RoleCentral && e.PeerID != f.id.ID {
			centrals = append(centrals, e.PeerID)
		}
	}
	if len(centrals) == 0 {
		return "", false
	}
	return centrals[rand.IntN(len(centrals))], true
}

// serveApply takes writes forwarded by other members. The forwarder is an authenticated roster
// member; a non-central member may only forward writes of its own country's principals, never as an
// admin, so a compromised edge cannot order writes for another country. Every item is checked as
// the API checks it (a member may send anything), and a bad one is refused as an item.
func (n *Node) serveApply() error {
	return serve(n.fed, transport.ProtoApply, func(ctx context.Context, from peer.ID, req *applyRequest) (any, error) {
		e, ok := n.fed.roster.Get(from)
		if !ok {
			return nil, wire.Errorf(wire.Forbidden, "forbidden", "peer %s is not a member", from)
		}
		var cmd replication.Command
		if err := cmd.UnmarshalBinary(req.Command); err != nil {
			n.refused(from, transport.ProtoApply, "bad_command", err)
			return nil, wire.Errorf(wire.Invalid, "bad_request", "%v", err)
		}
		if e.Role != transport.RoleCentral && (cmd.Principal.Admin || cmd.Principal.Country != e.Country) {
			err := wire.Errorf(wire.Forbidden, "forbidden", "member %s (%s) may not order writes for %s", e.Name, e.Country, orNone(cmd.Principal.Country))
			n.refused(from, transport.ProtoApply, "foreign_principal", err)
			return nil, err
		}
		kept, refused, pos := checkCommand(&cmd)
		if len(refused) > 0 {
			n.refused(from, transport.ProtoApply, "invalid_record", fmt.Errorf("item %d of %d (%q): %s", refused[0].Index, len(refused)+commandItems(kept), refused[0].ID, refused[0].Message))
			if commandItems(kept) == 0 {
				return replication.Result{Errors: refused}, nil
			}
		}
		g := n.groups[req.Shard]
		if g == nil {
			return nil, wire.Errorf(wire.Unavailable, "unavailable", "shard %s is not held by %s", req.Shard, n.cfg.Name)
		}
		if !g.IsLeader() {
			if req.Hops > 0 {
				return nil, wire.Errorf(wire.Unavailable, "unavailable", "%s does not lead shard %s", n.cfg.Name, req.Shard)
			}
			target, ok := n.writeTarget(req.Shard)
			if !ok {
				return nil, wire.Errorf(wire.Unavailable, "unavailable", "no leader known for shard %s", req.Shard)
			}
			if kept.Op != replication.OpDelete {
				// The leader refuses another shard's ids, but sees only this node as the sender:
				// the member that sent them is named here, from what this node holds.
				if foreign := n.foreignIDs(req.Shard, kept.Records); len(foreign) > 0 {
					n.refusedForeignIDs(from, req.Shard, len(kept.Records), foreign)
				}
			}
			data := req.Command
			if len(refused) > 0 {
				var err error
				if data, err = kept.MarshalBinary(); err != nil {
					return nil, err
				}
			}
			var res replication.Result
			err := n.fed.call(ctx, target, transport.ProtoApply, applyRequest{Shard: req.Shard, Command: data, Hops: req.Hops + 1}, &res)
			var re rpcError
			if err != nil && !errors.As(err, &re) {
				// The leader this node knew is unreachable: the origin retries, by then with a new leader.
				return nil, wire.Errorf(wire.Unavailable, "unavailable", "leader of shard %s unreachable from %s: %v", req.Shard, n.cfg.Name, err)
			}
			return mergeRefused(res, refused, pos), err
		}
		if err := n.checkHeadroom(); err != nil {
			return nil, err
		}
		res, err := n.orderUnique(ctx, req.Shard, g, kept, from) // ids.go: no id of another shard
		return mergeRefused(res, refused, pos), err
	})
}

// applyHere orders cmd on g, which this node leads; a halted shard answers 503 (the forwarder
// retries, by then at the leader it handed over to).
func applyHere(ctx context.Context, g *replication.Group, cmd *replication.Command) (replication.Result, error) {
	res, err := g.Apply(ctx, cmd)
	if errors.Is(err, replication.ErrHalted) {
		return res, (&wire.Error{Kind: wire.Unavailable, Code: "unavailable", Message: err.Error() + "; retry shortly"}).Retry(5)
	}
	return res, err
}

func isHalted(g *replication.Group) bool {
	_, halted := g.Halted()
	return halted
}
