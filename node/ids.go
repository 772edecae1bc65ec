package node

import (
	"context"
	"fmt"
	"slices"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Record ids are unique across the federation, not only within a shard. Records are sharded by
// recording country, and a shard's FSM sees only its own records: KE's KE-000003 sits in africa,
// and by itself europe's FSM would let FR write a record with the same id. The two would then
// shadow each other wherever both shards are held (the match index, GET and the owner's delete all
// find a record by id).
//
// The check is made where a write is ordered: on the shard's leader, a central node, which holds
// every shard. Before the command goes into the log, every record whose id a record in another
// shard already has is refused as an item (409 conflict naming the owner), and so is a record
// filed in a shard its recording country does not map to; the rest of the command goes through.
// The receiving node makes the same check on what it holds (create, update, import), for an early
// answer, but only the leader's check counts: a compromised node skips its own.
//
// What is left: two leaders of different shards can order the same new id at the same moment, each
// before the other's write is applied on its node; both pass. The window is the time between a
// write's commit on one shard and its apply on the other shard's leader, normally milliseconds.
// The duplicate is then in two shards; the match index keeps the record filed first and logs the
// collision (index.go), each owner still reads and deletes its own record through its own shard,
// and fedarms_peer_refusals_total does not see it: the log line "record id in two shards" does.

// orderUnique applies cmd to shard's group g, which this node leads, after refusing the items that
// would reuse another shard's id (see foreignIDs). from is the member that forwarded the command,
// empty when it was made on this node. Item indexes in the result are those of cmd.
func (n *Node) orderUnique(ctx context.Context, shard string, g *replication.Group, cmd *replication.Command, from peer.ID) (replication.Result, error) {
	if cmd.Op == replication.OpDelete {
		return applyHere(ctx, g, cmd) // a delete touches its own shard only
	}
	refused := n.foreignIDs(shard, cmd.Records)
	if len(refused) == 0 {
		return applyHere(ctx, g, cmd)
	}
	if from != "" {
		n.refusedForeignIDs(from, shard, len(cmd.Records), refused)
	}
	kept, pos := withoutItems(cmd, refused)
	if commandItems(kept) == 0 {
		return mergeRefused(replication.Result{}, refused, pos), nil
	}
	res, err := applyHere(ctx, g, kept)
	return mergeRefused(res, refused, pos), err
}

// refusedForeignIDs counts and audits a member's command whose items were refused. A central
// member forwards for others (the sender reached a central node that does not lead the shard, and
// is not known here), so only a command from a non-central member counts against it.
func (n *Node) refusedForeignIDs(from peer.ID, shard string, total int, refused []replication.ItemError) {
	if e, ok := n.fed.roster.Get(from); !ok || e.Role == transport.RoleCentral {
		return
	}
	first := refused[0]
	n.refused(from, transport.ProtoApply, "foreign_id", fmt.Errorf("shard %s: %d of %d records refused, the first %s: %s",
		shard, len(refused), total, first.ID, first.Message))
}

// foreignIDs returns an item error for each record of recs, a write to shard, that must not be
// written there: its recording country maps to another shard, or its id is already used by a
// record in another shard this node holds. Index is the record's position in recs.
func (n *Node) foreignIDs(shard string, recs []record.Record) []replication.ItemError {
	if len(recs) == 0 {
		return nil
	}
	var errs []replication.ItemError
	ids := make([]string, len(recs))
	done := make([]bool, len(recs)) // refused, or found in another shard
	for i := range recs {
		ids[i] = recs[i].ID
		if s, ok := n.shardMap.Shard(recs[i].RecordingCountry); ok && s != shard {
			done[i] = true
			errs = append(errs, replication.ItemError{Index: i, ID: ids[i], Code: replication.CodeForbidden,
				Message: fmt.Sprintf("recording_country %s is kept in shard %s, not %s", recs[i].RecordingCountry, s, shard)})
		}
	}
	found := slices.Clone(done)
	others := make([]record.Record, len(recs))
	for _, s := range n.allHeld() {
		g := n.copies[s]
		if s == shard || g == nil {
			continue
		}
		if err := g.State().GetMany(ids, others, found, nil); err != nil {
			n.log.Error("checking record ids against another shard", "shard", s, "error", err)
			continue
		}
		for i := range recs {
			if found[i] && !done[i] {
				done[i] = true
				errs = append(errs, replication.ItemError{Index: i, ID: ids[i], Code: replication.CodeConflict,
					Message: fmt.Sprintf("id %s is used by a record of %s (shard %s); record ids are unique across the federation",
						ids[i], others[i].RecordingCountry, s)})
			}
		}
	}
	slices.SortFunc(errs, func(a, b replication.ItemError) int { return a.Index - b.Index })
	return errs
}

// routeDelete is the shard a delete of p is ordered on: its own country's, whatever shard holds a
// record of that id, so a delete can never reach another country's record (an id used in two
// shards, see above, is deleted in the owner's). Only the General Secretariat (admin, no country)
// deletes by finding the record.
func (n *Node) routeDelete(ctx context.Context, p principalCountry, id string) (string, error) {
	if p.admin {
		rec, ok := n.fetchRecord(ctx, id)
		if !ok {
			return "", wire.Errorf(wire.NotFound, "not_found", "no record %q", id)
		}
		shard, ok := n.shardMap.Shard(rec.RecordingCountry)
		if !ok {
			return "", wire.Errorf(wire.Invalid, "invalid_field", "no shard for recording_country %s", rec.RecordingCountry)
		}
		return shard, nil
	}
	shard, ok := n.shardMap.Shard(p.country)
	if !ok {
		return "", wire.Errorf(wire.Forbidden, "forbidden", "%s may not delete records: no shard for country %s", p.agency, orNone(p.country))
	}
	return shard, nil
}

// principalCountry is what routing a delete needs of a principal.
type principalCountry struct {
	agency, country string
	admin           bool
}

// notOwnedError turns a delete's "not found" in the principal's own shard into the clearer answer
// when the id belongs to another country's record that this node can find: 403 naming the owner.
func (n *Node) notOwnedError(ctx context.Context, p principalCountry, id string, err error) error {
	if p.admin || apiError(err).Kind != wire.NotFound {
		return err
	}
	if rec, ok := n.fetchRecord(ctx, id); ok && rec.RecordingCountry != p.country {
		return wire.Errorf(wire.Forbidden, "forbidden", "record %s belongs to %s; only its NCB may delete it", id, rec.RecordingCountry)
	}
	return err
}
