package record

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// FieldError is a validation failure that names the field and the offending value.
type FieldError struct {
	Field   string
	Value   string
	Message string
}

func (e *FieldError) Error() string {
	if e.Value == "" {
		return fmt.Sprintf("%s: %s", e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s (got %q)", e.Field, e.Message, e.Value)
}

// CountryChecker reports whether a code is an assigned ISO 3166-1 alpha-2 code. The record package
// does not own the country list; callers pass the reference table's lookup.
type CountryChecker func(code string) bool

// Normalize trims surrounding white space and canonicalises the case of coded fields so that the
// same record always encodes to the same bytes (the shard digest depends on it).
func (r *Record) Normalize() {
	r.ID = strings.TrimSpace(r.ID)
	r.Serial = strings.TrimSpace(r.Serial)
	others := r.OtherSerials[:0]
	for _, s := range r.OtherSerials {
		if s = strings.TrimSpace(s); s != "" {
			others = append(others, s)
		}
	}
	if len(others) == 0 {
		others = nil
	}
	r.OtherSerials = others
	r.Make = strings.TrimSpace(r.Make)
	r.Model = strings.TrimSpace(r.Model)
	r.Calibre = strings.TrimSpace(r.Calibre)
	r.Type = strings.ToLower(strings.TrimSpace(r.Type))
	r.CountryOfManufacture = strings.ToUpper(strings.TrimSpace(r.CountryOfManufacture))
	r.RecordingCountry = strings.ToUpper(strings.TrimSpace(r.RecordingCountry))
	r.Status = strings.ToLower(strings.TrimSpace(r.Status))
	r.EventDate = strings.TrimSpace(r.EventDate)
	r.CaseReference = strings.TrimSpace(r.CaseReference)
	r.Remarks = strings.TrimSpace(r.Remarks)
	r.ReviewDate = strings.TrimSpace(r.ReviewDate)
}

// Validate checks r against the contract's rules and returns the first problem as a *FieldError.
// Call Normalize first.
func (r *Record) Validate(isCountry CountryChecker) error {
	if err := ValidateID(r.ID); err != nil {
		return err
	}
	required := []struct{ field, value string }{
		{"serial", r.Serial}, {"make", r.Make}, {"calibre", r.Calibre}, {"type", r.Type},
		{"recording_country", r.RecordingCountry}, {"status", r.Status},
	}
	for _, f := range required {
		if f.value == "" {
			return &FieldError{Field: f.field, Message: "is required"}
		}
	}
	// Records travel and are served as JSON, which cannot carry invalid UTF-8: such a value would be
	// stored as sent and served changed (a CSV in Latin-1, or a binary command made by hand).
	if field, value, ok := invalidUTF8(r); ok {
		return &FieldError{Field: field, Value: value, Message: "is not valid UTF-8"}
	}
	texts := []struct{ field, value string }{
		{"serial", r.Serial}, {"make", r.Make}, {"model", r.Model}, {"calibre", r.Calibre},
		{"case_reference", r.CaseReference},
	}
	for _, f := range texts {
		if len(f.value) > MaxTextLen {
			return &FieldError{Field: f.field, Value: f.value[:32] + "...", Message: fmt.Sprintf("is longer than %d bytes", MaxTextLen)}
		}
	}
	if len(r.Remarks) > MaxRemarksLen {
		return &FieldError{Field: "remarks", Message: fmt.Sprintf("is longer than %d bytes (got %d)", MaxRemarksLen, len(r.Remarks))}
	}
	if len(r.OtherSerials) > MaxOtherSerials {
		return &FieldError{Field: "other_serials", Message: fmt.Sprintf("has more than %d entries", MaxOtherSerials)}
	}
	for _, s := range r.OtherSerials {
		if len(s) > MaxTextLen {
			return &FieldError{Field: "other_serials", Value: s[:32] + "...", Message: fmt.Sprintf("has an entry longer than %d bytes", MaxTextLen)}
		}
	}
	if !oneOf(r.Type, Types) {
		return &FieldError{Field: "type", Value: r.Type, Message: "must be one of " + strings.Join(Types, ", ")}
	}
	if !oneOf(r.Status, Statuses) {
		return &FieldError{Field: "status", Value: r.Status, Message: "must be one of " + strings.Join(Statuses, ", ")}
	}
	if !isCountry(r.RecordingCountry) {
		return &FieldError{Field: "recording_country", Value: r.RecordingCountry, Message: "is not an ISO 3166-1 alpha-2 country code"}
	}
	if r.CountryOfManufacture != "" && !isCountry(r.CountryOfManufacture) {
		return &FieldError{Field: "country_of_manufacture", Value: r.CountryOfManufacture, Message: "is not an ISO 3166-1 alpha-2 country code"}
	}
	for _, d := range []struct{ field, value string }{{"event_date", r.EventDate}, {"review_date", r.ReviewDate}} {
		if d.value == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", d.value); err != nil {
			return &FieldError{Field: d.field, Value: d.value, Message: "must be a date YYYY-MM-DD"}
		}
	}
	return nil
}

// invalidUTF8 returns the first field of r that is not valid UTF-8.
func invalidUTF8(r *Record) (field, value string, found bool) {
	for _, f := range [...]struct{ field, value string }{
		{"serial", r.Serial}, {"make", r.Make}, {"model", r.Model}, {"calibre", r.Calibre}, {"type", r.Type},
		{"country_of_manufacture", r.CountryOfManufacture}, {"recording_country", r.RecordingCountry},
		{"status", r.Status}, {"event_date", r.EventDate}, {"case_reference", r.CaseReference},
		{"remarks", r.Remarks}, {"review_date", r.ReviewDate},
	} {
		if !utf8.ValidString(f.value) {
			return f.field, f.value, true
		}
	}
	for _, s := range r.OtherSerials {
		if !utf8.ValidString(s) {
			return "other_serials", s, true
		}
	}
	return "", "", false
}

// ValidateID checks a record id: 1-64 characters of A-Z a-z 0-9 . _ : -
func ValidateID(id string) error {
	if id == "" {
		return &FieldError{Field: "id", Message: "is required"}
	}
	if len(id) > MaxIDLen {
		return &FieldError{Field: "id", Value: id, Message: fmt.Sprintf("is longer than %d characters", MaxIDLen)}
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		ok := c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-'
		if !ok {
			return &FieldError{Field: "id", Value: id, Message: "may only contain A-Z a-z 0-9 . _ : -"}
		}
	}
	return nil
}

func oneOf(s string, set []string) bool {
	for _, v := range set {
		if s == v {
			return true
		}
	}
	return false
}
