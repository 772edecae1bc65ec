// Package notify keeps a node's hit notifications: the hits this node made (its outbox, until every
// recipient's receipt is in), the hits other nodes delivered to it (its inbox, deduplicated by id so
// a message delivered twice is stored once), the owning NCB's decisions and their delivery, and a
// feed of changes for live views. Storage is the node's bbolt file (buckets "hits" and
// "decision_out"); sending is the node's business, through the Sender seam, so this package imports
// no other fedarms package and no network code.
//
// Every message between members proves who it speaks for (sign.go). A hit is taken from its origin,
// or from a carrier showing the origin's signature over the fields the origin set; a receipt for a
// role from the recipient playing it, or with its signature; a decision from a node of the
// recording country's NCB or a central node, or with its signature; a trace request from its
// origin, an answer from an NCB node of its country, each or with their signatures. Signatures are
// Ed25519 by the author's node identity key over a versioned, domain-separated canonical encoding;
// the node checks them against the roster (Signer and Verifier keep this package free of it).
// What only a recipient sets (a hit's decision and receipts, a trace's receipts) is never taken
// from a sender: Receive and ReceiveTrace set it themselves.
package notify

import (
	"errors"
	"fmt"
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
	DecidedVia       string            `json:"decided_via,omitempty"` // the member the decision came from, as this node verified it
	DecidedAt        time.Time         `json:"decided_at,omitzero"`
	Comment          string            `json:"comment,omitempty"`
	Receipts         map[string]string `json:"receipts"` // role -> time the recipient durably stored it, "" until then

	// SearchOrigin is the node the search was made at, on a late hit a central node made for it
	// (Origin is then that central node); empty when the origin searched.
	SearchOrigin string `json:"search_origin,omitempty"`
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
	HitID      string    `json:"hit_id"`
	Decision   string    `json:"decision"`
	Comment    string    `json:"comment,omitempty"`
	DecidedBy  string    `json:"decided_by"`
	DecidedVia string    `json:"decided_via,omitempty"` // the member it was made on, as the receiver verified it
	DecidedAt  time.Time `json:"decided_at"`
}

// ErrMalformed is returned for a hit or decision from another member that lacks what every one has.
var ErrMalformed = errors.New("malformed message")

// maxField bounds the length of an identifier in a message from another member.
const maxField = 256

// Validate reports what makes h unfit to store: a missing or oversized id, record id or origin, a
// recording country that is no ISO 3166-1 alpha-2 code.
func (h *Hit) Validate() error {
	for name, v := range map[string]string{"id": h.ID, "record_id": h.RecordID, "origin": h.Origin} {
		if v == "" || len(v) > maxField {
			return fmt.Errorf("hit %s: want 1-%d bytes: %w", name, maxField, ErrMalformed)
		}
	}
	if !isAlpha2(h.RecordingCountry) {
		return fmt.Errorf("hit recording_country %q: %w", h.RecordingCountry, ErrMalformed)
	}
	return nil
}

// Validate reports what makes d unfit to apply: no hit id, or a decision other than confirmed or
// denied.
func (d *Decision) Validate() error {
	if d.HitID == "" || len(d.HitID) > maxField {
		return fmt.Errorf("decision hit_id: want 1-%d bytes: %w", maxField, ErrMalformed)
	}
	if d.Decision != Confirmed && d.Decision != Denied {
		return fmt.Errorf("decision %q: %w", d.Decision, ErrBadDecision)
	}
	return nil
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
