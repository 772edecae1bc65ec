package wire

import (
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
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

// SearchResult is one record found by a search.
type SearchResult struct {
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
	Results  []SearchResult `json:"results"`
	Coverage Coverage       `json:"coverage"`
	// Limited names the token's read limit that left records out of this answer (records the token
	// had not seen yet in the window); empty when nothing was left out.
	Limited string `json:"limited,omitempty"`
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

// BatchAnswer is one answer line of a screening (POST /v1/search/batch): the request's line
// number (from 1) and the search's answer.
type BatchAnswer struct {
	Line     int            `json:"line"`
	SearchID string         `json:"search_id"`
	Results  []SearchResult `json:"results"`
}

// BatchError answers a line of a screening that could not be searched; the screening goes on.
type BatchError struct {
	Line  int    `json:"line"`
	Error *Error `json:"error"`
}

// BatchDone is a screening's last line.
type BatchDone struct {
	Done     bool     `json:"done"`
	Batch    string   `json:"batch"`
	Count    int      `json:"count"`  // lines answered, errors included
	Hits     int      `json:"hits"`   // lines with at least one HIT
	Errors   int      `json:"errors"` // lines answered with an error
	Coverage Coverage `json:"coverage"`
}
