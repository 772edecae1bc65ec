package node

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/replication"
)

func (n *Node) handleCreate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var rec record.Record
	if err := decodeStrict(r.Body, &rec); err != nil {
		return err
	}
	if err := n.writeOne(r.Context(), p, replication.OpCreate, &rec); err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

func (n *Node) handleUpdate(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var rec record.Record
	if err := decodeStrict(r.Body, &rec); err != nil {
		return err
	}
	id := r.PathValue("id")
	if rec.ID == "" {
		rec.ID = id
	}
	if rec.ID != id {
		return &apiError{Status: 400, Code: "invalid_field", Field: "id", Message: "id in the body (" + rec.ID + ") differs from the URL (" + id + ")"}
	}
	if err := n.writeOne(r.Context(), p, replication.OpUpdate, &rec); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
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
		outcome = toAPIError(err).Code
	}
	change, _ := json.Marshal(rec)
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record." + map[replication.Op]string{replication.OpCreate: "create", replication.OpUpdate: "update"}[op],
		Query: change, ResultIDs: []string{rec.ID}, Outcome: outcome})
	return err
}

func itemError(e replication.ItemError) error {
	switch e.Code {
	case replication.CodeForbidden:
		return errf(403, "forbidden", "%s", e.Message)
	case replication.CodeNotFound:
		return errf(404, "not_found", "record %s: %s", e.ID, e.Message)
	case replication.CodeConflict:
		return errf(409, "conflict", "record %s: %s", e.ID, e.Message)
	}
	return &apiError{Status: 400, Code: "invalid_field", Message: e.Message}
}

func (n *Node) handleGet(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	rec, ok := n.fetchRecord(r.Context(), id)
	outcome := "ok"
	if !ok {
		outcome = "not_found"
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record.get", ResultIDs: []string{id}, Outcome: outcome})
	if !ok {
		return errf(404, "not_found", "no record %q on this node", id)
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

// handleDelete deletes a record of the principal's country, in that country's shard (ids.go,
// routeDelete): whatever another shard holds under the same id is out of its reach.
func (n *Node) handleDelete(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	id := r.PathValue("id")
	who := principalCountry{agency: p.Agency, country: p.Country, admin: p.Has("admin")}
	shard, err := n.routeDelete(r.Context(), who, id)
	if err == nil {
		var res replication.Result
		res, err = n.apply(r.Context(), shard, &replication.Command{Op: replication.OpDelete, Principal: principalOf(p), IDs: []string{id}})
		n.index.caughtUp()
		if err == nil && len(res.Errors) > 0 {
			err = n.notOwnedError(r.Context(), who, id, itemError(res.Errors[0]))
		}
	}
	outcome := "ok"
	if err != nil {
		outcome = toAPIError(err).Code
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "record.delete", ResultIDs: []string{id}, Outcome: outcome})
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
