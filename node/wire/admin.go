package wire

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/auth"
)

// TokenRequest is the body of POST /v1/tokens.
type TokenRequest struct {
	Agency  string   `json:"agency"`
	Country string   `json:"country"`
	Roles   []string `json:"roles"`
	Note    string   `json:"note"`
	// TTL is how long the token works, as a duration ("720h", "90d"); empty: it does not expire.
	TTL string `json:"ttl,omitempty"`
	// OnBehalfOf lists the agencies the token may search for, besides its own.
	OnBehalfOf []string `json:"on_behalf_of,omitempty"`
	// Limits are the token's own read limits (zero fields: the node's; -1: none).
	Limits auth.ReadLimits `json:"limits,omitzero"`
}

// NewToken is the answer to POST /v1/tokens: the secret, shown once, and the token's record.
type NewToken struct {
	Info  auth.Token `json:"info"`
	Token string     `json:"token"`
}

// ParseTTL reads a token's TTL: a Go duration ("720h", "90m") or a number of days ("90d"); empty
// is 0, no expiry.
func ParseTTL(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n <= 0 || n > 3650 {
			return 0, fmt.Errorf("%q: a number of days from 1 to 3650, e.g. 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%q: a positive duration such as 720h or 90d", s)
	}
	return d, nil
}
