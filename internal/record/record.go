// Package record defines the firearm record that fedarms stores, replicates and matches: its fields
// (the names are an external contract, shared by JSON and CSV), its validation rules and a compact
// binary encoding used in the raft log and the state files. It imports nothing else of fedarms.
package record

// Record is one firearm recorded as lost, stolen, trafficked or smuggled by the NCB of
// RecordingCountry, which alone (or the General Secretariat acting for it) may change or delete it.
type Record struct {
	ID                   string   `json:"id"`
	Serial               string   `json:"serial"`
	OtherSerials         []string `json:"other_serials,omitempty"`
	Make                 string   `json:"make"`
	Model                string   `json:"model,omitempty"`
	Calibre              string   `json:"calibre"`
	Type                 string   `json:"type"`
	CountryOfManufacture string   `json:"country_of_manufacture,omitempty"`
	RecordingCountry     string   `json:"recording_country"`
	Status               string   `json:"status"`
	EventDate            string   `json:"event_date,omitempty"`
	CaseReference        string   `json:"case_reference,omitempty"`
	Remarks              string   `json:"remarks,omitempty"`
	ReviewDate           string   `json:"review_date,omitempty"`
}

// Length limits of a record's fields, in bytes. They are generous for real records (the longest
// serial or make recorded is far under 100 bytes; the synthetic generator's remarks are a sentence)
// and keep one record small: a record is a raft entry's item, a state-file value and a search
// result. The FSM enforces the same limits, frozen with the command format
// (replication/itemcheck.go): raising one here needs a new command format there.
const (
	MaxIDLen        = 64   // id
	MaxTextLen      = 256  // serial, make, model, calibre, case_reference and each of other_serials
	MaxRemarksLen   = 4096 // remarks
	MaxOtherSerials = 16   // entries in other_serials
)

// Types lists the firearm types a record may carry, in the order they are documented.
var Types = []string{"pistol", "revolver", "rifle", "shotgun", "submachine_gun", "machine_gun", "other"}

// Statuses lists why a firearm is recorded.
var Statuses = []string{"lost", "stolen", "trafficked", "smuggled"}
