package node

import (
	"cmp"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// traceRoles are the trace recipients this node plays.
func (n *Node) traceRoles() []string {
	if n.fed == nil {
		return nil // every recipient: see playsTrace
	}
	var roles []string
	if n.cfg.Role == "central" {
		roles = append(roles, "gs")
	}
	if n.cfg.Role == "ncb" {
		roles = append(roles, "ncb:"+n.cfg.Country)
	}
	return roles
}

func (n *Node) playsTrace(recipient string) bool {
	return n.fed == nil || slices.Contains(n.traceRoles(), recipient)
}

func traceVisible(p auth.Principal, t *notify.Trace) bool {
	if p.Has("admin") || (p.Has("operator") && p.Country == "") || t.RequestedBy == p.Agency {
		return true
	}
	return p.Country != "" && slices.Contains(t.Recipients, "ncb:"+p.Country)
}

// CreateTrace opens a trace request for p about a record or a firearm described by hand, and sends
// it to the recipients the countries name (POST /v1/traces).
func (n *Node) CreateTrace(ctx context.Context, p auth.Principal, req wire.TraceRequest) (notify.Trace, error) {
	t := notify.Trace{ID: newID("t"), RecordID: req.RecordID, LastImportCountry: strings.ToUpper(req.LastImportCountry),
		RequestedBy: p.Agency, RequesterCountry: p.Country, Origin: n.cfg.Name, CreatedAt: n.now().UTC(),
		Status: notify.TraceOpen, Receipts: map[string]string{}}
	switch {
	case req.RecordID != "":
		// The trace carries the record's serial, make and model back to the caller: only a token
		// that may read records may name one, and the read counts against its limits.
		// A recorder without the searcher role may name its own country's records only, and learns
		// nothing of others (not even whether they exist).
		mayNotRead := &wire.Error{Kind: wire.Forbidden, Code: "forbidden", Field: "record_id",
			Message: "record_id: this token may not read that record; describe the firearm instead (firearm.serial, firearm.make)"}
		searcher := p.Has(auth.RoleSearcher)
		if !searcher && !p.Has(auth.RoleRecorder) {
			return notify.Trace{}, mayNotRead
		}
		if err := n.admitRead(p, "trace.create", ""); err != nil {
			return notify.Trace{}, err
		}
		rec, ok := n.fetchRecord(ctx, req.RecordID)
		if !searcher && (!ok || rec.RecordingCountry != p.Country) {
			return notify.Trace{}, mayNotRead
		}
		if !ok {
			return notify.Trace{}, &wire.Error{Kind: wire.NotFound, Code: "not_found", Field: "record_id", Message: "no record " + req.RecordID}
		}
		if err := n.takeRecord(p, "trace.create", req.RecordID); err != nil {
			return notify.Trace{}, err
		}
		t.Firearm = notify.Firearm{Serial: rec.Serial, Make: rec.Make, Model: rec.Model, Calibre: rec.Calibre,
			Type: rec.Type, CountryOfManufacture: rec.CountryOfManufacture}
	case req.Firearm != nil && req.Firearm.Serial != "" && req.Firearm.Make != "":
		t.Firearm = *req.Firearm
		t.Firearm.CountryOfManufacture = strings.ToUpper(t.Firearm.CountryOfManufacture)
	default:
		return notify.Trace{}, wire.FieldError("firearm", "give record_id, or a firearm with at least serial and make")
	}
	for _, c := range []string{t.Firearm.CountryOfManufacture, t.LastImportCountry} {
		if c != "" && !isCountry(c) {
			return notify.Trace{}, wire.FieldError("country", c+" is not an ISO 3166-1 alpha-2 code")
		}
	}
	if t.Firearm.CountryOfManufacture == "" && t.LastImportCountry == "" {
		return notify.Trace{}, wire.FieldError("last_import_country", "a trace needs the country of manufacture or of last legal import")
	}
	t.Recipients = notify.TraceRecipients(t.Firearm.CountryOfManufacture, t.LastImportCountry)
	now := t.CreatedAt.Format(time.RFC3339Nano)
	for _, rc := range t.Recipients {
		if n.playsTrace(rc) && !n.viaInbox(rc) {
			t.Receipts[rc] = now
		}
	}
	if n.fed != nil {
		// Signed once, so copies other members relay still prove who asked.
		sig, err := notify.SignTrace(n.signer(), &t)
		if err != nil {
			return notify.Trace{}, err
		}
		t.OriginSig = sig
	}
	changeErr, err := n.changeAudited(ctx, audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "trace.create",
		Query: mustJSON(req), ResultIDs: []string{t.ID}, Outcome: "ok"}, func(tx *bolt.Tx) error { return notify.CreateTraceTx(tx, t) })
	if err = cmp.Or(changeErr, err); err != nil {
		return notify.Trace{}, err
	}
	n.kickDelivery()
	return t, nil
}

// Traces lists a page of the traces p may see, of one status when status is not empty, newest
// first: up to limit after cursor ("" for the first page), and the cursor of the next page (empty
// on the last). Trace requests are few (an NCB's manual inquiries), so a page is cut from the
// sorted list rather than read through an index.
func (n *Node) Traces(p auth.Principal, status, cursor string, limit int) ([]notify.Trace, string, error) {
	all, err := n.hits.Traces(func(t *notify.Trace) bool {
		return traceVisible(p, t) && (status == "" || t.Status == status)
	})
	if err != nil {
		return nil, "", err
	}
	sort.SliceStable(all, func(i, j int) bool { return traceKey(&all[i]) > traceKey(&all[j]) })
	start := 0
	if cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(cursor)
		if err != nil {
			return nil, "", wire.FieldError("cursor", "cursor: not one this node handed out; start again without it")
		}
		// The cursor is the last trace handed out; the next page starts after it in the order.
		start = sort.Search(len(all), func(i int) bool { return traceKey(&all[i]) < string(b) })
	}
	page := all[start:]
	next := ""
	if len(page) > limit {
		page = page[:limit]
		next = base64.RawURLEncoding.EncodeToString([]byte(traceKey(&page[limit-1])))
	}
	return page, next, nil
}

// traceKey orders traces newest first as the store lists them: creation time, then id.
func traceKey(t *notify.Trace) string {
	return fmt.Sprintf("%020d/%s", t.CreatedAt.UnixNano(), t.ID)
}

// Trace is the trace id, when p may see it.
func (n *Node) Trace(p auth.Principal, id string) (notify.Trace, error) {
	t, err := n.hits.GetTrace(id)
	if errors.Is(err, notify.ErrNotFound) || (err == nil && !traceVisible(p, &t)) {
		return notify.Trace{}, wire.Errorf(wire.NotFound, "not_found", "no trace %q visible to %s on this node", id, p.Agency)
	}
	return t, err
}

// AnswerTrace takes a recipient NCB's answer to trace id from p and routes it to the origin and the
// General Secretariat.
func (n *Node) AnswerTrace(p auth.Principal, id, text string) (notify.Trace, error) {
	t, err := n.hits.GetTrace(id)
	if errors.Is(err, notify.ErrNotFound) {
		return notify.Trace{}, wire.Errorf(wire.NotFound, "not_found", "no trace %q on this node", id)
	}
	if !p.Has("admin") && !(p.Has("recorder") && slices.Contains(t.Recipients, "ncb:"+p.Country)) {
		return notify.Trace{}, wire.Errorf(wire.Forbidden, "forbidden", "only the NCBs this trace was sent to answer it")
	}
	if n.fed != nil && !n.playsTrace("ncb:"+p.Country) {
		// Other members take an answer for a country only from that country's NCB nodes.
		return notify.Trace{}, wire.Errorf(wire.Conflict, "conflict", "answer trace %s at a node of the NCB of %s", id, p.Country)
	}
	a := notify.TraceAnswer{Country: p.Country, Agency: p.Agency, Text: text, At: n.now().UTC()}
	if n.fed != nil {
		if a.Sig, err = notify.SignAnswer(n.signer(), n.cfg.Name, id, &a); err != nil {
			return notify.Trace{}, err
		}
	}
	changeErr, err := n.changeAudited(context.Background(), audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "trace.answer",
		Query: mustJSON(map[string]string{"text": text}), ResultIDs: []string{id}, Outcome: "ok"}, func(tx *bolt.Tx) error {
		_, err := notify.AddAnswerTx(tx, id, a)
		return err
	})
	if errors.Is(changeErr, notify.ErrTraceClosed) {
		return notify.Trace{}, wire.Errorf(wire.Conflict, "conflict", "trace %s is closed", id)
	}
	if err = cmp.Or(changeErr, err); err != nil {
		return notify.Trace{}, err
	}
	return n.queueTraceCopies(id)
}

// CloseTrace lets the requester p close its trace id, at its origin or a central node (other
// members take a close only from those).
func (n *Node) CloseTrace(p auth.Principal, id string) (notify.Trace, error) {
	var t notify.Trace
	changeErr, err := n.changeAudited(context.Background(), audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, Action: "trace.close",
		ResultIDs: []string{id}, Outcome: "ok"}, func(tx *bolt.Tx) error {
		var err error
		t, err = notify.UpdateTraceTx(tx, id, func(t *notify.Trace) error {
			if t.RequestedBy != p.Agency && !p.Has("admin") {
				return wire.Errorf(wire.Forbidden, "forbidden", "only the requester closes a trace")
			}
			if n.fed != nil && t.Origin != n.cfg.Name && n.cfg.Role != "central" {
				return wire.Errorf(wire.Conflict, "conflict", "close trace %s at its origin %s or a central node", id, t.Origin)
			}
			t.Status = notify.TraceClosed
			return nil
		})
		return err
	})
	if errors.Is(changeErr, notify.ErrNotFound) {
		return t, wire.Errorf(wire.NotFound, "not_found", "no trace %q on this node", id)
	}
	if changeErr != nil {
		return t, changeErr
	}
	if err != nil {
		return notify.Trace{}, err
	}
	return n.queueTraceCopies(id)
}

// queueTraceCopies marks this node's copy to be sent to the origin, the General Secretariat and the
// recipient NCBs it does not itself stand for.
func (n *Node) queueTraceCopies(id string) (notify.Trace, error) {
	if n.fed == nil {
		return n.hits.GetTrace(id)
	}
	t, err := n.hits.UpdateTrace(id, func(t *notify.Trace) error {
		for _, to := range append([]string{"origin"}, t.Recipients...) {
			if (to == "origin" && t.Origin == n.cfg.Name) || (to != "origin" && n.playsTrace(to) && !n.viaInbox(to)) || slices.Contains(t.SendTo, to) {
				continue
			}
			t.SendTo = append(t.SendTo, to)
		}
		return nil
	})
	n.kickDelivery()
	return t, err
}

// traceTargets are the members that stand for a trace recipient.
func (n *Node) traceTargets(t *notify.Trace, to string) []peer.ID {
	switch {
	case to == "origin":
		if e, ok := n.fed.roster.ByName(t.Origin); ok {
			return []peer.ID{e.PeerID}
		}
		return nil
	case to == "gs":
		return n.recipients(notify.RoleGS, "")
	case strings.HasPrefix(to, "ncb:"):
		return n.recipients(notify.RoleNCB, strings.TrimPrefix(to, "ncb:"))
	}
	return nil
}

// deliverTraces sends trace requests this node made to their recipients, and copies it owes.
func (n *Node) deliverTraces() {
	ts, err := n.hits.Traces(func(t *notify.Trace) bool {
		if len(t.SendTo) > 0 {
			return true
		}
		if t.Origin != n.cfg.Name {
			return false
		}
		for _, rc := range t.Recipients {
			if t.Receipts[rc] == "" {
				return true
			}
		}
		return false
	})
	if err != nil {
		return
	}
	for i := range ts {
		t := &ts[i]
		if t.Origin == n.cfg.Name {
			for _, rc := range t.Recipients {
				key := "trace/" + t.ID + "/" + rc
				if t.Receipts[rc] != "" || !n.deliver.due(key) {
					continue
				}
				ans, err := n.sendTrace(t, rc)
				if err != nil {
					n.deliver.failed(key)
					continue
				}
				n.deliver.done(key)
				_, _ = n.hits.UpdateTrace(t.ID, func(st *notify.Trace) error {
					if st.Receipts[rc] == "" {
						st.Receipts[rc] = ans.StoredAt.UTC().Format(time.RFC3339Nano)
					}
					return nil
				})
			}
		}
		for _, to := range t.SendTo {
			key := "tracecopy/" + t.ID + "/" + to
			if !n.deliver.due(key) {
				continue
			}
			if _, err := n.sendTrace(t, to); err != nil {
				n.deliver.failed(key)
				continue
			}
			n.deliver.done(key)
			_, _ = n.hits.UpdateTrace(t.ID, func(st *notify.Trace) error {
				st.SendTo = slices.DeleteFunc(st.SendTo, func(s string) bool { return s == to })
				return nil
			})
		}
	}
}

// viaInbox says whether this node stores trace copies for recipient through the GS inbox: a
// central node does for the GS.
func (n *Node) viaInbox(recipient string) bool {
	return recipient == "gs" && n.fed != nil && n.fed.inbox != nil
}

// sendTrace sends this node's copy of t to recipient: into the GS inbox from a central node, to a
// member standing for it otherwise.
func (n *Node) sendTrace(t *notify.Trace, to string) (messageAnswer, error) {
	if n.viaInbox(to) {
		o, err := n.toInbox(context.Background(), notify.InboxItem{Kind: notify.InboxTrace, Trace: n.traceCopy(t)})
		return messageAnswer{StoredAt: o.StoredAt}, err
	}
	targets := n.traceTargets(t, to)
	if len(targets) == 0 {
		return messageAnswer{}, fmt.Errorf("no member stands for %s of trace %s", to, t.ID)
	}
	return n.sendTo(targets, message{Kind: "trace", Role: to, Trace: n.traceCopy(t)})
}
