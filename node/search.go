package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/node/notify"
)

// SearchRequest is the body of POST /v1/search.
type SearchRequest struct {
	Serial     string `json:"serial"`
	Make       string `json:"make"`
	Model      string `json:"model"`
	Calibre    string `json:"calibre"`
	Type       string `json:"type"`
	OnBehalfOf string `json:"on_behalf_of"`
	Reference  string `json:"reference"`
	Limit      int    `json:"limit"`
	// Urgent asks the recording NCB to decide on any hit within the urgent deadline.
	Urgent bool `json:"urgent,omitempty"`
}

type searchResult struct {
	ID             string         `json:"id"`
	Score          float64        `json:"score"`
	Hit            bool           `json:"hit"`
	Review         bool           `json:"review"`
	NotificationID string         `json:"notification_id,omitempty"`
	Record         *record.Record `json:"record"`
	Why            matcher.Why    `json:"why"`
	// Tie is how many records, this one included, fit the query equally (0: none).
	Tie int `json:"tie,omitempty"`
}

// SearchResponse is the answer to POST /v1/search.
type SearchResponse struct {
	SearchID string         `json:"search_id"`
	TookUS   int64          `json:"took_us"`
	Results  []searchResult `json:"results"`
	Coverage Coverage       `json:"coverage"`
}

// Coverage says which shards an answer searched, where, and how fresh each copy was.
type Coverage struct {
	Complete bool            `json:"complete"`
	Shards   []ShardCoverage `json:"shards"`
}

// ShardCoverage is one shard's part in an answer.
type ShardCoverage struct {
	Shard        string    `json:"shard"`
	Source       string    `json:"source"` // local, remote or missing
	AppliedIndex uint64    `json:"applied_index"`
	LastContact  time.Time `json:"last_contact,omitzero"`
	Stale        bool      `json:"stale"`
	Node         string    `json:"node,omitempty"` // the member that searched it, for a remote shard
}

func (n *Node) handleSearch(w http.ResponseWriter, r *http.Request, p auth.Principal) error {
	var req SearchRequest
	if err := decodeStrict(r.Body, &req); err != nil {
		return err
	}
	resp, err := n.Search(r.Context(), p, req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

// Search matches a query against the held shards, makes every hit's notification durable with the
// search's audit entry, and returns the ranked answer with its coverage.
func (n *Node) Search(ctx context.Context, p auth.Principal, req SearchRequest) (*SearchResponse, error) {
	t0 := time.Now()
	if err := n.checkSearch(&req); err != nil {
		return nil, err
	}
	resp, hits := n.match(ctx, p, req)
	query, _ := json.Marshal(auditedSearch{SearchID: resp.SearchID, SearchRequest: req})
	entry := audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, OnBehalfOf: req.OnBehalfOf,
		Action: "search", Query: query, Outcome: "ok"}
	for _, r := range resp.Results {
		entry.ResultIDs = append(entry.ResultIDs, r.ID)
	}
	if len(hits) > 0 {
		// A hit's notification and its audit entry become durable together, before the answer
		// leaves; concurrent searches share the commit.
		pending := n.audit.AppendWith(entry, func(tx *bolt.Tx) error { return notify.PutTx(tx, hits) })
		if _, err := pending.Wait(ctx); err != nil {
			return nil, err
		}
		n.hits.Published(hits...)
		n.kickDelivery()
		n.met.hits.Add(float64(len(hits)))
	} else {
		pending := n.audit.Append(entry)
		if n.cfg.Audit.Durability == "sync" {
			if _, err := pending.Wait(ctx); err != nil {
				return nil, err
			}
		}
	}
	n.late.rememberLater(rememberedSearch{ID: resp.SearchID, At: n.now().UTC(), Agency: p.Agency, OnBehalfOf: req.OnBehalfOf, Req: req}, entry.ResultIDs)
	took := time.Since(t0)
	resp.TookUS = took.Microseconds()
	n.met.observeSearch(resp.Results, took)
	return resp, nil
}

func (n *Node) checkSearch(req *SearchRequest) error {
	if strings.TrimSpace(req.Serial) == "" {
		return &apiError{Status: 400, Code: "invalid_field", Field: "serial", Message: "serial: is required"}
	}
	// No record field is longer than 256 bytes, so nothing longer can match; the bound also keeps
	// a remote search request small (it is read within the search frame limit).
	for _, f := range []struct{ name, value string }{{"serial", req.Serial}, {"make", req.Make}, {"model", req.Model},
		{"calibre", req.Calibre}, {"type", req.Type}, {"on_behalf_of", req.OnBehalfOf}, {"reference", req.Reference}} {
		if len(f.value) > 256 {
			return &apiError{Status: 400, Code: "invalid_field", Field: f.name, Message: f.name + ": is longer than 256 bytes"}
		}
	}
	if req.Limit < 0 || req.Limit > n.cfg.Limits.MaxSearchLimit {
		return &apiError{Status: 400, Code: "invalid_field", Field: "limit", Message: "limit: must be between 1 and " + strconv.Itoa(n.cfg.Limits.MaxSearchLimit)}
	}
	if req.Limit == 0 {
		req.Limit = matcher.DefaultLimit
	}
	return nil
}

// match is the read-only part of a search: the local index and records, the peers holding the
// shards this node does not, and the coverage. It writes nothing; the hits it returns still have to
// be made durable.
func (n *Node) match(ctx context.Context, p auth.Principal, req SearchRequest) (*SearchResponse, []notify.Hit) {
	resp := &SearchResponse{SearchID: newID("s"), Coverage: n.coverage()}
	resp.Results = n.localResults(req, nil)
	if n.fed != nil && !resp.Coverage.Complete {
		n.searchRemote(ctx, req, resp)
	}
	sort.SliceStable(resp.Results, func(i, j int) bool {
		a, b := resp.Results[i], resp.Results[j]
		if a.Score != b.Score {
			return a.Score > b.Score
		}
		return a.ID < b.ID
	})
	if len(resp.Results) > req.Limit {
		resp.Results = resp.Results[:req.Limit]
	}
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
	return resp, hits
}

// localResults searches the local index; with only set, it keeps records of those shards alone.
func (n *Node) localResults(req SearchRequest, only map[string]bool) []searchResult {
	found, shards := n.index.Search(matcher.Query{Serial: req.Serial, Make: req.Make, Model: req.Model,
		Calibre: req.Calibre, Type: req.Type, Limit: req.Limit})
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.Key
	}
	recs, ok := n.getRecords(ids, shards)
	out := make([]searchResult, 0, len(found))
	for i, f := range found {
		if !ok[i] {
			continue // deleted between the index read and now
		}
		if only != nil {
			if s, _ := n.shardMap.Shard(recs[i].RecordingCountry); !only[s] {
				continue
			}
		}
		out = append(out, searchResult{ID: f.Key, Score: f.Score, Hit: f.Hit, Review: f.Review, Record: &recs[i], Why: f.Why, Tie: f.Tie})
	}
	return out
}

// coverage reports every shard of the shard map: held ones are searched locally.
func (n *Node) coverage() Coverage {
	c := Coverage{Complete: true}
	for _, s := range n.shardMap.Shards() {
		g, ok := n.groups[s]
		if !ok {
			c.Complete = false
			c.Shards = append(c.Shards, ShardCoverage{Shard: s, Source: "missing"})
			continue
		}
		applied, contact := g.Freshness()
		stale := time.Since(contact) > n.cfg.MaxStaleness.Duration
		c.Shards = append(c.Shards, ShardCoverage{Shard: s, Source: "local", AppliedIndex: applied,
			LastContact: contact.UTC(), Stale: stale})
	}
	return c
}

// getRecord finds a record in the held shards.
func (n *Node) getRecord(id string) (record.Record, bool) {
	for _, s := range n.held {
		if r, ok, err := n.groups[s].State().Get(id); err == nil && ok {
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
	read := func(s string, only []int) {
		if err := n.groups[s].State().GetMany(ids, recs, found, only); err != nil {
			n.log.Error("reading records", "shard", s, "error", err)
		}
	}
	var filed []int
	for _, s := range n.held {
		filed = filed[:0]
		for i := range ids {
			if shards[i] == s {
				filed = append(filed, i)
			}
		}
		if len(filed) > 0 {
			read(s, filed)
		}
	}
	for _, s := range n.held {
		if !slices.Contains(found, false) {
			break
		}
		read(s, nil)
	}
	return recs, found
}

// newID makes a random, unguessable id with a readable prefix.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
