package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
)

// Search matches a query against the held shards, makes every hit's notification durable with the
// search's audit entry, and returns the ranked answer with its coverage.
func (n *Node) Search(ctx context.Context, p auth.Principal, req wire.SearchRequest) (*wire.SearchResponse, error) {
	t0 := n.now()
	if err := n.checkSearch(&req); err != nil {
		return nil, err
	}
	if err := n.checkOnBehalfOf(p, req.OnBehalfOf); err != nil {
		return nil, err
	}
	if err := n.checkReads(p, req); err != nil {
		return nil, err
	}
	resp, hits := n.match(ctx, p, req)
	resp.Results, resp.Limited = n.reads.take(p, n.now(), resp.Results)
	entry := searchEntry(p, req, resp, "")
	pending, err := n.recordSearch(ctx, entry, hits)
	if err != nil {
		return nil, err
	}
	if n.cfg.Audit.Durability == "sync" {
		if _, err := pending.Wait(ctx); err != nil {
			return nil, err
		}
	}
	n.late.rememberLater(rememberedSearch{ID: resp.SearchID, At: n.now().UTC(), Agency: p.Agency, OnBehalfOf: req.OnBehalfOf, Req: req,
		Uncovered: notHeld(resp.Coverage)}, entry.ResultIDs)
	took := n.since(t0)
	resp.TookUS = took.Microseconds()
	n.met.observeSearch(resp.Results, took)
	return resp, nil
}

// searchEntry is a search's audit entry: the query (with its search id, and the screening it was a
// line of, if any) and the ids it answered.
func searchEntry(p auth.Principal, req wire.SearchRequest, resp *wire.SearchResponse, batch string) audit.Entry {
	// The keys and ids take about 200 bytes, the values the rest.
	size := 224 + len(req.Serial) + len(req.Make) + len(req.Model) + len(req.Calibre) + len(req.Type) + len(req.OnBehalfOf) + len(req.Reference)
	query := appendAuditedQuery(make([]byte, 0, size), &auditedSearch{SearchID: resp.SearchID, Batch: batch, SearchRequest: req})
	entry := audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, OnBehalfOf: req.OnBehalfOf,
		Action: "search", Query: query, Outcome: "ok"}
	if len(resp.Results) > 0 {
		entry.ResultIDs = make([]string, len(resp.Results))
		for i, r := range resp.Results {
			entry.ResultIDs[i] = r.ID
		}
	}
	return entry
}

// recordSearch appends a search's audit entry. With hits, their notifications and the entry become
// durable together before it returns (the answer must not leave before them; concurrent searches
// share the commit); without, the caller decides whether to wait for the returned Pending.
func (n *Node) recordSearch(ctx context.Context, entry audit.Entry, hits []notify.Hit) (audit.Pending, error) {
	pending := n.appendSearch(entry, hits)
	if len(hits) == 0 {
		return pending, nil
	}
	if _, err := pending.Wait(ctx); err != nil {
		return pending, err
	}
	n.publishHits(hits)
	return pending, nil
}

// appendSearch queues a search's audit entry and, in the same commit, its hits' notifications.
// The hits may be published (publishHits) once the returned Pending is durable, not before.
func (n *Node) appendSearch(entry audit.Entry, hits []notify.Hit) audit.Pending {
	if len(hits) == 0 {
		return n.audit.Append(entry)
	}
	return n.audit.AppendWith(entry, func(tx *bolt.Tx) error { return notify.PutTx(tx, hits) })
}

// publishHits hands durable hits to the inbox and the delivery.
func (n *Node) publishHits(hits []notify.Hit) {
	n.hits.Published(hits...)
	n.kickDelivery()
	n.met.hits.Add(float64(len(hits)))
}

func (n *Node) checkSearch(req *wire.SearchRequest) error {
	if strings.TrimSpace(req.Serial) == "" {
		return wire.FieldError("serial", "serial: is required")
	}
	// No record field is longer than 256 bytes, so nothing longer can match; the bound also keeps
	// a remote search request small (it is read within the search frame limit).
	for _, f := range []struct{ name, value string }{{"serial", req.Serial}, {"make", req.Make}, {"model", req.Model},
		{"calibre", req.Calibre}, {"type", req.Type}, {"on_behalf_of", req.OnBehalfOf}, {"reference", req.Reference}} {
		if len(f.value) > 256 {
			return wire.FieldError(f.name, f.name+": is longer than 256 bytes")
		}
	}
	if req.Limit < 0 || req.Limit > n.cfg.Limits.MaxSearchLimit {
		return wire.FieldError("limit", "limit: must be between 1 and "+strconv.Itoa(n.cfg.Limits.MaxSearchLimit))
	}
	if req.Limit == 0 {
		req.Limit = matcher.DefaultLimit
	}
	return nil
}

// checkOnBehalfOf refuses a search made for an agency the caller's token does not list: whoever
// is named may see the hits it makes (visible), so naming one must be granted. The refusal is
// audited.
func (n *Node) checkOnBehalfOf(p auth.Principal, agency string) error {
	if p.MayActFor(agency) {
		return nil
	}
	n.audit.Append(audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, OnBehalfOf: agency,
		Action: "search", Outcome: "refused: on_behalf_of not allowed"})
	return &wire.Error{Kind: wire.Forbidden, Code: "on_behalf_of_not_allowed", Field: "on_behalf_of",
		Message: fmt.Sprintf("on_behalf_of: token %s (%s) may not search for %s; an admin lists the agencies a token serves with `fedarms tokens create --on-behalf-of`", p.TokenID, p.Agency, agency)}
}

// match is the read-only part of a search: the local index and records, the peers holding the
// shards this node does not, and the coverage. It writes nothing; the hits it returns still have to
// be made durable.
func (n *Node) match(ctx context.Context, p auth.Principal, req wire.SearchRequest) (*wire.SearchResponse, []notify.Hit) {
	return n.matchCovered(ctx, p, req, n.coverage())
}

// matchCovered is match with the coverage already read (a screening reads it once a second, not
// once a line).
func (n *Node) matchCovered(ctx context.Context, p auth.Principal, req wire.SearchRequest, cov wire.Coverage) (*wire.SearchResponse, []notify.Hit) {
	resp := &wire.SearchResponse{SearchID: newID("s"), Coverage: cov}
	resp.Results = n.localResults(req, nil)
	return resp, n.finishMatch(ctx, p, req, resp)
}

// finishMatch completes an answer holding the local results: the peers' results for the shards not
// held, the order, the limit, the records past their review date, and the hits to notify.
func (n *Node) finishMatch(ctx context.Context, p auth.Principal, req wire.SearchRequest, resp *wire.SearchResponse) []notify.Hit {
	if n.fed != nil && !resp.Coverage.Complete {
		n.searchRemote(ctx, req, resp)
	}
	slices.SortStableFunc(resp.Results, func(a, b wire.SearchResult) int {
		switch {
		case a.Score > b.Score:
			return -1
		case a.Score < b.Score:
			return 1
		case a.Score != b.Score: // NaN: neither before the other, as sort.SliceStable had it
			return 0
		}
		return strings.Compare(a.ID, b.ID)
	})
	if len(resp.Results) > req.Limit {
		resp.Results = resp.Results[:req.Limit]
	}
	n.withholdExpired(resp.Results) // local and remote alike, on this node's clock (retention.go)
	var hits []notify.Hit
	now := n.now().UTC()
	for i := range resp.Results {
		res := &resp.Results[i]
		if !res.Hit {
			continue
		}
		h := n.newHit(res, resp.SearchID, p, req, now)
		res.NotificationID = h.ID
		hits = append(hits, h)
	}
	return hits
}

// localResults searches the local index; with only set, it keeps records of those shards alone.
func (n *Node) localResults(req wire.SearchRequest, only map[string]bool) []wire.SearchResult {
	found, shards := n.searchIndex(req)
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.Key
	}
	recs, ok := n.getRecords(ids, shards)
	return n.foundResults(nil, found, recs, ok, only)
}

// searchIndex matches req against the local index: the records found, and the shard each is filed
// in.
func (n *Node) searchIndex(req wire.SearchRequest) ([]matcher.Result, []string) {
	return n.index.Search(matcher.Query{Serial: req.Serial, Make: req.Make, Model: req.Model,
		Calibre: req.Calibre, Type: req.Type, Limit: req.Limit})
}

// foundResults appends to dst what the index found paired with the records read for it (recs[i]
// and ok[i] for found[i]); with only set, it keeps records of those shards alone.
func (n *Node) foundResults(dst []wire.SearchResult, found []matcher.Result, recs []record.Record, ok []bool, only map[string]bool) []wire.SearchResult {
	out := slices.Grow(dst, len(found))
	if out == nil {
		out = []wire.SearchResult{} // no result is "results": [], not null
	}
	for i, f := range found {
		if !ok[i] {
			continue // deleted between the index read and now
		}
		if only != nil {
			if s, _ := n.shardMap.Shard(recs[i].RecordingCountry); !only[s] {
				continue
			}
		}
		out = append(out, wire.SearchResult{ID: f.Key, Score: f.Score, Hit: f.Hit, Review: f.Review, Record: &recs[i], Why: f.Why, Tie: f.Tie})
	}
	return out
}

// coverage reports every shard of the shard map: held ones are searched locally.
func (n *Node) coverage() wire.Coverage {
	c := wire.Coverage{Complete: true}
	for _, s := range n.shardMap.Shards() {
		g, ok := n.copies[s]
		if !ok {
			c.Complete = false
			c.Shards = append(c.Shards, wire.ShardCoverage{Shard: s, Source: "missing"})
			continue
		}
		applied, contact := g.Freshness()
		_, halted := g.Halted()
		stale := n.stale(contact, halted)
		c.Shards = append(c.Shards, wire.ShardCoverage{Shard: s, Source: "local", AppliedIndex: applied,
			LastContact: contact.UTC(), Stale: stale})
	}
	return c
}

// notHeld are the shards a coverage did not search locally.
func notHeld(c wire.Coverage) []string {
	var out []string
	for _, s := range c.Shards {
		if s.Source != "local" {
			out = append(out, s.Shard)
		}
	}
	return out
}

// getRecord finds a record in the held shards.
func (n *Node) getRecord(id string) (record.Record, bool) {
	for _, s := range n.allHeld() {
		if r, ok, err := n.copies[s].State().Get(id); err == nil && ok {
			return r, true
		}
	}
	return record.Record{}, false
}

// getRecords finds several records in the held shards, one read transaction per shard. shards[i],
// when not "", is where the index filed ids[i]: it is read there first, and in every held shard
// only when it is not found there.
func (n *Node) getRecords(ids, shards []string) ([]record.Record, []bool) {
	recs := make([]record.Record, len(ids))
	found := make([]bool, len(ids))
	n.readRecords(ids, shards, recs, found)
	return recs, found
}

// readRecords is getRecords into recs and found (as long as ids, found all false).
func (n *Node) readRecords(ids, shards []string, recs []record.Record, found []bool) {
	read := func(s string, only []int) {
		if err := n.copies[s].State().GetMany(ids, recs, found, only); err != nil {
			n.log.Error("reading records", "shard", s, "error", err)
		}
	}
	held := n.allHeld()
	var filed []int
	for _, s := range held {
		filed = filed[:0]
		for i := range ids {
			if shards[i] == s {
				filed = append(filed, i)
			}
		}
		// In key order, each lookup finds the pages of the one before it in cache: a screening
		// reads the records of many searches at once, and a run's neighbours have neighbouring ids.
		slices.SortFunc(filed, func(a, b int) int { return strings.Compare(ids[a], ids[b]) })
		if len(filed) > 0 {
			read(s, filed)
		}
	}
	for _, s := range held {
		if !slices.Contains(found, false) {
			break
		}
		read(s, nil)
	}
}

// newID makes a random, unguessable id with a readable prefix: 96 random bits, in hex.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var h [24]byte
	hex.Encode(h[:], b[:])
	var id strings.Builder // one allocation, not three: a screening makes an id a line
	id.Grow(len(prefix) + 1 + len(h))
	id.WriteString(prefix)
	id.WriteByte('-')
	id.Write(h[:])
	return id.String()
}
