package replication

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/fedarms/fedarms/internal/record"
)

// The FSM checks every item of a command before it touches the state: an item that breaks these
// rules is refused as an item (CodeInvalid, naming the field), so no entry that reached the log,
// whoever put it there, can fail the state transaction (bbolt refuses an empty or oversized key)
// and stop the shard on every replica.
//
// The rules are part of command format 1 and frozen with it: every replica, of every release that
// reads format 1, must refuse exactly the same items, or their copies diverge. They are a copy of
// what the API has enforced since the first release (record.Validate), minus the one check that
// depends on a table (whether a country code is assigned; here any two capital letters pass), so
// every entry an earlier release wrote to a log passes them and replays as it applied then. A rule
// that must change takes a new command format, not an edit here.
const (
	v1MaxID           = 64
	v1MaxText         = 256
	v1MaxRemarks      = 4096
	v1MaxOtherSerials = 16
)

var (
	v1Types    = []string{"pistol", "revolver", "rifle", "shotgun", "submachine_gun", "machine_gun", "other"}
	v1Statuses = []string{"lost", "stolen", "trafficked", "smuggled"}
)

// checkID is the format-1 rule for an id: 1-64 of A-Z a-z 0-9 . _ : -
func checkID(id string) *record.FieldError {
	if id == "" {
		return bad("id", "", "is required")
	}
	if len(id) > v1MaxID {
		return bad("id", id, fmt.Sprintf("is longer than %d characters", v1MaxID))
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == ':' || c == '-') {
			return bad("id", id, "may only contain A-Z a-z 0-9 . _ : -")
		}
	}
	return nil
}

// checkRecord is the format-1 rule for a record; the error is a *record.FieldError.
func checkRecord(r *record.Record) *record.FieldError {
	if err := checkID(r.ID); err != nil {
		return err
	}
	for _, f := range [...]struct{ field, value string }{
		{"serial", r.Serial}, {"make", r.Make}, {"calibre", r.Calibre}, {"type", r.Type},
		{"recording_country", r.RecordingCountry}, {"status", r.Status},
	} {
		if f.value == "" {
			return bad(f.field, "", "is required")
		}
	}
	for _, f := range [...]struct{ field, value string }{
		{"serial", r.Serial}, {"make", r.Make}, {"model", r.Model}, {"calibre", r.Calibre},
		{"case_reference", r.CaseReference},
	} {
		if len(f.value) > v1MaxText {
			return bad(f.field, f.value, fmt.Sprintf("is longer than %d bytes", v1MaxText))
		}
	}
	if len(r.Remarks) > v1MaxRemarks {
		return bad("remarks", "", fmt.Sprintf("is longer than %d bytes (got %d)", v1MaxRemarks, len(r.Remarks)))
	}
	if len(r.OtherSerials) > v1MaxOtherSerials {
		return bad("other_serials", "", fmt.Sprintf("has more than %d entries", v1MaxOtherSerials))
	}
	for _, s := range r.OtherSerials {
		if len(s) > v1MaxText {
			return bad("other_serials", s, fmt.Sprintf("has an entry longer than %d bytes", v1MaxText))
		}
	}
	if !slices.Contains(v1Types, r.Type) {
		return bad("type", r.Type, "is not a known firearm type")
	}
	if !slices.Contains(v1Statuses, r.Status) {
		return bad("status", r.Status, "is not a known status")
	}
	if !countryCode(r.RecordingCountry) {
		return bad("recording_country", r.RecordingCountry, "is not a country code")
	}
	if r.CountryOfManufacture != "" && !countryCode(r.CountryOfManufacture) {
		return bad("country_of_manufacture", r.CountryOfManufacture, "is not a country code")
	}
	for _, d := range [...]struct{ field, value string }{{"event_date", r.EventDate}, {"review_date", r.ReviewDate}} {
		if d.value == "" {
			continue
		}
		if _, err := time.Parse("2006-01-02", d.value); err != nil {
			return bad(d.field, d.value, "must be a date YYYY-MM-DD")
		}
	}
	return nil
}

// countryCode is the shape of an ISO 3166-1 alpha-2 code; whether it is assigned is the API's
// question (the table may grow between releases, the FSM's rule may not).
func countryCode(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// clip keeps an error message short whatever the value.
func clip(s string) string {
	if len(s) <= 32 {
		return s
	}
	return strings.ToValidUTF8(s[:32], "") + "..."
}

// bad is an item check's refusal, naming the field and (clipped) the value.
func bad(field, value, msg string) *record.FieldError {
	return &record.FieldError{Field: field, Value: clip(value), Message: msg}
}
