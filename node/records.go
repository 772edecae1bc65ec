package node

import (
	"context"
	"encoding/json"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
)

// CreateRecord creates rec in its recording country's shard, as p (POST /v1/records); rec is
// normalized as stored.
func (n *Node) CreateRecord(ctx context.Context, p auth.Principal, rec *record.Record) error {
	return n.writeOne(ctx, p, replication.OpCreate, rec)
}

// UpdateRecord replaces the record rec.ID with rec, as p (PUT /v1/records/{id}).
func (n *Node) UpdateRecord(ctx context.Context, p auth.Principal, rec *record.Record) error {
	return n.writeOne(ctx, p, replication.OpUpdate, rec)
}

// writeOne validates, checks ownership, orders the write through the shard's raft and audits it.
func (n *Node) writeOne(ctx context.Context, p auth.Principal, op replication.Op, rec *record.Record) error {
	rec.Normalize()
	if err := rec.Validate(isCountry); err != nil {
		return err
	}
	shard, err := n.ownedShard(p, rec)
	if err != nil {
		return err
	}
	// Ids are unique across the federation: the shard's leader refuses an id another shard has
	// (ids.go); this node answers early for the shards it holds.
	if refused := n.foreignIDs(shard, []record.Record{*rec}); len(refused) > 0 {
		return itemError(refused[0])
	}
	res, err := n.applyValid(ctx, shard, &replication.Command{Op: op, Principal: principalOf(p), Records: []record.Record{*rec}})
	n.index.caughtUp()
	outcome := "ok"
	if err == nil && len(res.Errors) > 0 {
		err = itemError(res.Errors[0])
	}
	if err != nil {
		outcome = apiError(err).Code
	}
	change, _ := json.Marshal(rec)
	aerr := n.auditDurably(ctx, audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record." + map[replication.Op]string{replication.OpCreate: "create", replication.OpUpdate: "update"}[op],
		Query: change, ResultIDs: []string{rec.ID}, Outcome: outcome})
	if err != nil {
		return err
	}
	return aerr
}

func itemError(e replication.ItemError) error {
	switch e.Code {
	case replication.CodeForbidden:
		return wire.Errorf(wire.Forbidden, "forbidden", "%s", e.Message)
	case replication.CodeNotFound:
		return wire.Errorf(wire.NotFound, "not_found", "record %s: %s", e.ID, e.Message)
	case replication.CodeConflict:
		return wire.Errorf(wire.Conflict, "conflict", "record %s: %s", e.ID, e.Message)
	}
	return &wire.Error{Kind: wire.Invalid, Code: "invalid_field", Message: e.Message}
}

// GetRecord reads a record from the held shards or a member that holds its shard, as p (audited).
// A record read by id counts against the token's read limits like a search answer (readlimit.go).
func (n *Node) GetRecord(ctx context.Context, p auth.Principal, id string) (record.Record, error) {
	if err := n.admitRead(p, "record.get", ""); err != nil {
		return record.Record{}, err
	}
	rec, ok := n.fetchRecord(ctx, id)
	if ok {
		if err := n.takeRecord(p, "record.get", id); err != nil {
			return record.Record{}, err
		}
	}
	outcome := "ok"
	if !ok {
		outcome = "not_found"
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record.get", ResultIDs: []string{id}, Outcome: outcome})
	if !ok {
		return record.Record{}, wire.Errorf(wire.NotFound, "not_found", "no record %q on this node", id)
	}
	return rec, nil
}

// DeleteRecord deletes a record of the principal's country, in that country's shard (ids.go,
// routeDelete): whatever another shard holds under the same id is out of its reach.
func (n *Node) DeleteRecord(ctx context.Context, p auth.Principal, id string) error {
	who := principalCountry{agency: p.Agency, country: p.Country, admin: p.Has("admin")}
	shard, err := n.routeDelete(ctx, who, id)
	if err == nil {
		var res replication.Result
		res, err = n.apply(ctx, shard, &replication.Command{Op: replication.OpDelete, Principal: principalOf(p), IDs: []string{id}})
		n.index.caughtUp()
		if err == nil && len(res.Errors) > 0 {
			err = n.notOwnedError(ctx, who, id, itemError(res.Errors[0]))
		}
	}
	outcome := "ok"
	if err != nil {
		outcome = apiError(err).Code
	}
	aerr := n.auditDurably(ctx, audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record.delete", ResultIDs: []string{id}, Outcome: outcome})
	if err != nil {
		return err
	}
	return aerr
}
