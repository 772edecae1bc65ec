package auth

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Token is the public part of a bearer token; it never holds the secret.
type Token struct {
	ID      string     `json:"id"`
	Agency  string     `json:"agency"`
	Country string     `json:"country,omitempty"`
	Roles   []string   `json:"roles"`
	Note    string     `json:"note,omitempty"`
	Created time.Time  `json:"created"`
	Revoked *time.Time `json:"revoked,omitempty"`
	// Expires is when the token stops working (nil: never). Set from a TTL when it is made.
	Expires *time.Time `json:"expires,omitempty"`
	// OnBehalfOf lists the agencies this token may search for (a customs network such as the WCO's
	// I2C lists the administrations it serves); a search on behalf of any other is refused.
	OnBehalfOf []string `json:"on_behalf_of,omitempty"`
	// Limits bound how much of the register the token reads (zero fields: the node's defaults).
	Limits ReadLimits `json:"limits,omitzero"`
	// LastUsed is when the token last authenticated a request. It is kept on disk at most a minute
	// late (see Store.FlushLastUse).
	LastUsed *time.Time `json:"last_used,omitempty"`
}

// Request is what an admin asks for when making a token.
type Request struct {
	Agency     string
	Country    string
	Roles      []string
	Note       string
	TTL        time.Duration // 0: the token does not expire
	OnBehalfOf []string
	Limits     ReadLimits
}

// ReadLimits bound the searches a token makes and the distinct records its answers carry, per
// hour and per day, so that paging through the register with a script is noticed and stopped. A
// zero field takes the node's default; Unlimited lifts that bound (a bulk-screening service).
type ReadLimits struct {
	SearchesPerHour int `json:"searches_per_hour,omitempty"`
	SearchesPerDay  int `json:"searches_per_day,omitempty"`
	RecordsPerHour  int `json:"records_per_hour,omitempty"`
	RecordsPerDay   int `json:"records_per_day,omitempty"`
}

// Unlimited in a ReadLimits field lifts that bound.
const Unlimited = -1

// Or fills l's zero fields from def.
func (l ReadLimits) Or(def ReadLimits) ReadLimits {
	pick := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	return ReadLimits{pick(l.SearchesPerHour, def.SearchesPerHour), pick(l.SearchesPerDay, def.SearchesPerDay),
		pick(l.RecordsPerHour, def.RecordsPerHour), pick(l.RecordsPerDay, def.RecordsPerDay)}
}

// Bounds of a token request: a TTL up to ten years, and up to 256 agencies to act for.
const (
	MaxTTL        = 10 * 365 * 24 * time.Hour
	maxOnBehalfOf = 256
)

// FieldError says which field of a token request was wrong and with what value, so the API can
// answer invalid_field with the field's name.
type FieldError struct {
	Field  string
	Value  string
	Reason string
}

// Error names the field and the bad value.
func (e *FieldError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Field, e.Value, e.Reason)
}

// Unwrap lets callers test for ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

const (
	secretPrefix = "fa_"
	idBytes      = 6  // 12 hex digits
	keyBytes     = 32 // the part that is secret
)

var (
	agencyPattern  = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)
	countryPattern = regexp.MustCompile(`^[A-Z]{2}$`)
	idPattern      = regexp.MustCompile(`^[0-9a-f]{12}$`)
	keyEncoding    = base64.RawURLEncoding.Strict()
	keyLen         = keyEncoding.EncodedLen(keyBytes)
	secretLen      = len(secretPrefix) + 2*idBytes + 1 + keyLen
)

// validateRequest checks a token request and returns its roles deduplicated in the usual order.
// Every problem is reported, not only the first.
func validateRequest(agency, country string, roles []string) ([]string, error) {
	var errs []error
	if !agencyPattern.MatchString(agency) {
		errs = append(errs, &FieldError{Field: "agency", Value: agency,
			Reason: "must be 2-32 of A-Z, 0-9 and '-', starting with a letter or digit, e.g. FR-NCB"})
	}
	if country != "" && !countryPattern.MatchString(country) {
		errs = append(errs, &FieldError{Field: "country", Value: country,
			Reason: "must be an ISO 3166-1 alpha-2 code in capitals, or empty for an international body"})
	}
	if len(roles) == 0 {
		errs = append(errs, &FieldError{Field: "roles", Value: "",
			Reason: "at least one role is needed: " + strings.Join(knownRoles, ", ")})
	}
	var out []string
	for _, r := range roles {
		if !slices.Contains(knownRoles, r) {
			errs = append(errs, &FieldError{Field: "roles", Value: r,
				Reason: "unknown role; known roles are " + strings.Join(knownRoles, ", ")})
		}
	}
	for _, r := range knownRoles {
		if slices.Contains(roles, r) {
			out = append(out, r)
		}
	}
	if len(errs) > 0 {
		return nil, joinErrors(errs)
	}
	return out, nil
}

// validateGrant checks what a request adds to the agency and roles: the TTL and the agencies the
// token may search for.
func validateGrant(req Request) ([]string, []error) {
	var errs []error
	if req.TTL < 0 || req.TTL > MaxTTL {
		errs = append(errs, &FieldError{Field: "ttl", Value: req.TTL.String(),
			Reason: "must be positive and at most ten years (0: no expiry)"})
	}
	if len(req.OnBehalfOf) > maxOnBehalfOf {
		errs = append(errs, &FieldError{Field: "on_behalf_of", Value: fmt.Sprint(len(req.OnBehalfOf), " agencies"),
			Reason: fmt.Sprintf("at most %d agencies", maxOnBehalfOf)})
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"searches_per_hour", req.Limits.SearchesPerHour}, {"searches_per_day", req.Limits.SearchesPerDay},
		{"records_per_hour", req.Limits.RecordsPerHour}, {"records_per_day", req.Limits.RecordsPerDay}} {
		if f.v < Unlimited {
			errs = append(errs, &FieldError{Field: f.name, Value: fmt.Sprint(f.v),
				Reason: "must be a positive count, 0 for the node's default or -1 for no limit"})
		}
	}
	var out []string
	for _, a := range req.OnBehalfOf {
		if !agencyPattern.MatchString(a) {
			errs = append(errs, &FieldError{Field: "on_behalf_of", Value: a,
				Reason: "must be agencies as in agency, e.g. KE-CUSTOMS"})
			continue
		}
		if !slices.Contains(out, a) {
			out = append(out, a)
		}
	}
	slices.Sort(out)
	return out, errs
}

// joinErrors keeps a single error unwrapped so its message reads naturally.
func joinErrors(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return &multiError{errs: errs}
}

// multiError reports several field errors in one line.
type multiError struct{ errs []error }

func (m *multiError) Error() string {
	parts := make([]string, len(m.errs))
	for i, e := range m.errs {
		parts[i] = e.Error()
	}
	return strings.Join(parts, "; ")
}

func (m *multiError) Unwrap() []error { return m.errs }

// newSecret draws a fresh id and key.
func newSecret() (id, secret string, err error) {
	var b [idBytes + keyBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", "", fmt.Errorf("draw token secret: %w", err)
	}
	id = hex.EncodeToString(b[:idBytes])
	return id, secretPrefix + id + "_" + keyEncoding.EncodeToString(b[idBytes:]), nil
}

// parseSecret returns the public id of a well-formed secret. The error never repeats the secret.
func parseSecret(secret string) (string, error) {
	if len(secret) != secretLen || !strings.HasPrefix(secret, secretPrefix) {
		return "", fmt.Errorf("%w: want %s<12 hex digits>_<%d base64url characters>", ErrMalformed, secretPrefix, keyLen)
	}
	id := secret[len(secretPrefix) : len(secretPrefix)+2*idBytes]
	rest := secret[len(secretPrefix)+2*idBytes:]
	if !idPattern.MatchString(id) || rest[0] != '_' {
		return "", fmt.Errorf("%w: the id part is not 12 lowercase hex digits", ErrMalformed)
	}
	if _, err := keyEncoding.DecodeString(rest[1:]); err != nil {
		return "", fmt.Errorf("%w: the key part is not base64url", ErrMalformed)
	}
	return id, nil
}
