package node

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/audit"
	"github.com/fedarms/fedarms/auth"
	"github.com/fedarms/fedarms/matcher"
	"github.com/fedarms/fedarms/record"
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
}

type searchResult struct {
	ID             string            `json:"id"`
	Score          float64           `json:"score"`
	Hit            bool              `json:"hit"`
	Review         bool              `json:"review"`
	NotificationID string            `json:"notification_id,omitempty"`
	Record         *record.Record    `json:"record"`
	Why            map[string]string `json:"why"`
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
	if strings.TrimSpace(req.Serial) == "" {
		return nil, &apiError{Status: 400, Code: "invalid_field", Field: "serial", Message: "serial: is required"}
	}
	if len(req.Serial) > 256 {
		return nil, &apiError{Status: 400, Code: "invalid_field", Field: "serial", Message: "serial: is longer than 256 bytes"}
	}
	if req.Limit < 0 || req.Limit > n.cfg.Limits.MaxSearchLimit {
		return nil, &apiError{Status: 400, Code: "invalid_field", Field: "limit", Message: "limit: must be between 1 and " + itoa(n.cfg.Limits.MaxSearchLimit)}
	}
	if req.Limit == 0 {
		req.Limit = matcher.DefaultLimit
	}
	found := n.index.Search(matcher.Query{Serial: req.Serial, Make: req.Make, Model: req.Model,
		Calibre: req.Calibre, Type: req.Type, Limit: req.Limit})
	resp := SearchResponse{SearchID: newID("s"), Results: make([]searchResult, 0, len(found)), Coverage: n.coverage()}
	ids := make([]string, 0, len(found))
	var hits []Hit
	now := time.Now().UTC()
	for _, f := range found {
		rec, ok := n.getRecord(f.Key)
		if !ok {
			continue // deleted between the index read and now
		}
		res := searchResult{ID: f.Key, Score: f.Score, Hit: f.Hit, Review: f.Review, Record: &rec, Why: f.Why}
		if f.Hit {
			h := Hit{ID: newID("h"), RecordID: rec.ID, RecordingCountry: rec.RecordingCountry,
				SearchID: resp.SearchID, Origin: n.cfg.Name, Agency: p.Agency, OnBehalfOf: req.OnBehalfOf,
				SearchedAt: now, Score: f.Score, Why: f.Why, Decision: "pending",
				Receipts: map[string]string{"gs": "", "ncb": "", "origin": now.Format(time.RFC3339Nano)}}
			res.NotificationID = h.ID
			hits = append(hits, h)
		}
		ids = append(ids, f.Key)
		resp.Results = append(resp.Results, res)
	}
	query, _ := json.Marshal(req)
	entry := audit.Entry{TokenID: p.TokenID, Agency: p.Agency, Country: p.Country, OnBehalfOf: req.OnBehalfOf,
		Action: "search", Query: query, ResultIDs: ids, Outcome: "ok"}
	if len(hits) > 0 {
		// A hit's notification and its audit entry become durable together, before the answer leaves.
		err := n.db.Update(func(tx *bolt.Tx) error {
			if err := n.audit.AppendTx(tx, &entry); err != nil {
				return err
			}
			return putHits(tx, hits)
		})
		if err != nil {
			return nil, err
		}
		n.met.hits.Add(float64(len(hits)))
	} else {
		pending := n.audit.Append(entry)
		if n.cfg.Audit.Durability == "sync" {
			if _, err := pending.Wait(ctx); err != nil {
				return nil, err
			}
		}
	}
	took := time.Since(t0)
	resp.TookUS = took.Microseconds()
	n.met.observeSearch(found, took)
	return &resp, nil
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
		st := g.Status()
		stale := time.Since(st.LastContact) > n.cfg.MaxStaleness.Duration
		c.Shards = append(c.Shards, ShardCoverage{Shard: s, Source: "local", AppliedIndex: st.AppliedIndex,
			LastContact: st.LastContact.UTC(), Stale: stale})
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

// newID makes a random, unguessable id with a readable prefix.
func newID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return prefix + "-" + hex.EncodeToString(b[:])
}
