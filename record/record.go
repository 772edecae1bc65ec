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

// Types lists the firearm types a record may carry, in the order they are documented.
var Types = []string{"pistol", "revolver", "rifle", "shotgun", "submachine_gun", "machine_gun", "other"}

// Statuses lists why a firearm is recorded.
var Statuses = []string{"lost", "stolen", "trafficked", "smuggled"}
