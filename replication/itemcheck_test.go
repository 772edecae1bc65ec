package replication

import (
	"strings"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/synth"
)

// The FSM's frozen item rules accept every record the API accepts (an entry written by any release
// replays as it applied) and refuse what the API refuses, except an unassigned country code.
func TestItemRulesAgreeWithTheAPI(t *testing.T) {
	anyCode := countryCode // a table in which every pair of capitals is assigned
	g := synth.New(14)
	for i := 0; i < 20000; i++ {
		r := g.Next()
		r.Normalize()
		if err := r.Validate(anyCode); err != nil {
			t.Fatalf("synthetic record %d invalid for the API: %v", i, err)
		}
		if fe := checkRecord(&r); fe != nil {
			t.Fatalf("synthetic record %+v refused by the FSM: %v", r, fe)
		}
	}
	base := rec("FR-1", "FR", "S1")
	long := func(n int) string { return strings.Repeat("x", n) }
	cases := []func(r *record.Record){
		func(r *record.Record) {},
		func(r *record.Record) { r.ID = "" },
		func(r *record.Record) { r.ID = "FR 1" },
		func(r *record.Record) { r.ID = long(record.MaxIDLen) },
		func(r *record.Record) { r.ID = long(record.MaxIDLen + 1) },
		func(r *record.Record) { r.Serial = "" },
		func(r *record.Record) { r.Serial = long(record.MaxTextLen) },
		func(r *record.Record) { r.Make = long(record.MaxTextLen + 1) },
		func(r *record.Record) { r.Model = long(record.MaxTextLen + 1) },
		func(r *record.Record) { r.CaseReference = long(record.MaxTextLen + 1) },
		func(r *record.Record) { r.Remarks = long(record.MaxRemarksLen) },
		func(r *record.Record) { r.Remarks = long(record.MaxRemarksLen + 1) },
		func(r *record.Record) { r.OtherSerials = strings.Split(long(record.MaxOtherSerials), "") },
		func(r *record.Record) { r.OtherSerials = strings.Split(long(record.MaxOtherSerials+1), "") },
		func(r *record.Record) { r.OtherSerials = []string{long(record.MaxTextLen + 1)} },
		func(r *record.Record) { r.Type = "trebuchet" },
		func(r *record.Record) { r.Status = "borrowed" },
		func(r *record.Record) { r.RecordingCountry = "France" },
		func(r *record.Record) { r.CountryOfManufacture = "at" },
		func(r *record.Record) { r.EventDate = "2024-02-30" },
		func(r *record.Record) { r.ReviewDate = "2030-01-01" },
	}
	for i, mut := range cases {
		r := base
		mut(&r)
		r.Normalize() // as the API does before it validates and orders a write
		api := r.Validate(anyCode)
		fe := checkRecord(&r)
		if (api == nil) != (fe == nil) {
			t.Errorf("case %d: the API says %v, the FSM %v", i, api, fe)
		}
		var afe *record.FieldError
		if fe != nil && (!asFieldError(api, &afe) || afe.Field != fe.Field) {
			t.Errorf("case %d: the API names %v, the FSM %s", i, api, fe.Field)
		}
	}
}

func asFieldError(err error, fe **record.FieldError) bool {
	f, ok := err.(*record.FieldError)
	*fe = f
	return ok
}
