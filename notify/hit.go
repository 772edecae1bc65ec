// Package notify keeps a node's hit notifications: the hits this node made (its outbox, until every
// recipient's receipt is in), the hits other nodes delivered to it (its inbox, deduplicated by id so
// a message delivered twice is stored once), the owning NCB's decisions and their delivery, and a
// feed of changes for live views. Storage is the node's bbolt file (buckets "hits" and
// "decision_out"); sending is the node's business, through the Sender seam, so this package imports
// no other fedarms package and no network code.
package notify

import (
	"errors"
	"time"
)

// Recipient roles of a hit.
const (
	RoleGS     = "gs"     // the INTERPOL General Secretariat: any central node
	RoleNCB    = "ncb"    // the NCB of the recording country: its ncb nodes
	RoleOrigin = "origin" // the node (and agency) that searched
)

// Decisions.
const (
	Pending   = "pending"
	Confirmed = "confirmed"
	Denied    = "denied"
)

// Sentinel errors.
var (
	ErrNotFound    = errors.New("no such hit")
	ErrBadDecision = errors.New(`decision must be "confirmed" or "denied"`)
	ErrDecided     = errors.New("hit already decided")
)

// Hit is a match to be confirmed by the recording country's NCB, and notified to the General
// Secretariat, that NCB and the searcher. Field names follow the API contract.
type Hit struct {
	ID               string            `json:"id"`
	RecordID         string            `json:"record_id"`
	RecordingCountry string            `json:"recording_country"`
	SearchID         string            `json:"search_id"`
	Origin           string            `json:"origin"`
	Agency           string            `json:"agency"`
	OnBehalfOf       string            `json:"on_behalf_of"`
	SearchedAt       time.Time         `json:"searched_at"`
	Score            float64           `json:"score"`
	Why              map[string]string `json:"why,omitempty"`
	Late             bool              `json:"late,omitempty"` // found by re-checking an earlier search against a newer record
	Urgent           bool              `json:"urgent,omitempty"`
	Deadline         time.Time         `json:"deadline"` // when the NCB's decision is due
	Decision         string            `json:"decision"`
	DecidedBy        string            `json:"decided_by,omitempty"`
	DecidedAt        time.Time         `json:"decided_at,omitzero"`
	Comment          string            `json:"comment,omitempty"`
	Receipts         map[string]string `json:"receipts"` // role -> time the recipient durably stored it, "" until then
}

// Delivered reports whether every recipient has stored the hit.
func (h *Hit) Delivered() bool {
	for _, r := range []string{RoleGS, RoleNCB, RoleOrigin} {
		if h.Receipts[r] == "" {
			return false
		}
	}
	return true
}

// Overdue reports whether the decision is still pending past its deadline.
func (h *Hit) Overdue(now time.Time) bool {
	return h.Decision == Pending && !h.Deadline.IsZero() && now.After(h.Deadline)
}

// Decision is the owning NCB's answer to a hit, routed to the origin and the General Secretariat.
type Decision struct {
	HitID     string    `json:"hit_id"`
	Decision  string    `json:"decision"`
	Comment   string    `json:"comment,omitempty"`
	DecidedBy string    `json:"decided_by"`
	DecidedAt time.Time `json:"decided_at"`
}
