package record

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"pgregory.net/rapid"
)

func isCountry(c string) bool { return c == "FR" || c == "US" || c == "KE" }

func valid() Record {
	return Record{ID: "FR-2019-004512", Serial: "ABC 123", Make: "Glock", Calibre: "9x19",
		Type: "pistol", RecordingCountry: "FR", Status: "stolen"}
}

func TestValidateRequiredFields(t *testing.T) {
	for _, field := range []string{"id", "serial", "make", "calibre", "type", "recording_country", "status"} {
		t.Run(field, func(t *testing.T) {
			r := valid()
			switch field {
			case "id":
				r.ID = ""
			case "serial":
				r.Serial = ""
			case "make":
				r.Make = ""
			case "calibre":
				r.Calibre = ""
			case "type":
				r.Type = ""
			case "recording_country":
				r.RecordingCountry = ""
			case "status":
				r.Status = ""
			}
			err := r.Validate(isCountry)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != field {
				t.Fatalf("missing %s: got %v", field, err)
			}
		})
	}
}

func TestValidateValues(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Record)
		field  string
	}{
		{"bad country", func(r *Record) { r.RecordingCountry = "XX" }, "recording_country"},
		{"bad manufacture country", func(r *Record) { r.CountryOfManufacture = "ZZ" }, "country_of_manufacture"},
		{"bad type", func(r *Record) { r.Type = "cannon" }, "type"},
		{"bad status", func(r *Record) { r.Status = "found" }, "status"},
		{"bad id char", func(r *Record) { r.ID = "FR 1" }, "id"},
		{"long id", func(r *Record) { r.ID = strings.Repeat("a", 65) }, "id"},
		{"bad date", func(r *Record) { r.EventDate = "2019-13-01" }, "event_date"},
		{"bad review date", func(r *Record) { r.ReviewDate = "soon" }, "review_date"},
		{"long serial", func(r *Record) { r.Serial = strings.Repeat("1", 300) }, "serial"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := valid()
			c.mutate(&r)
			err := r.Validate(isCountry)
			var fe *FieldError
			if !errors.As(err, &fe) || fe.Field != c.field {
				t.Fatalf("got %v, want error on %s", err, c.field)
			}
		})
	}
	r := valid()
	if err := r.Validate(isCountry); err != nil {
		t.Fatalf("valid record rejected: %v", err)
	}
}

func TestNormalize(t *testing.T) {
	r := Record{ID: " x ", Type: " Pistol", Status: "STOLEN", RecordingCountry: "fr", OtherSerials: []string{" ", "a "}}
	r.Normalize()
	want := Record{ID: "x", Type: "pistol", Status: "stolen", RecordingCountry: "FR", OtherSerials: []string{"a"}}
	if !reflect.DeepEqual(r, want) {
		t.Fatalf("got %+v", r)
	}
}

func TestCodecRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		r := Record{
			ID: rapid.String().Draw(t, "id"), Serial: rapid.String().Draw(t, "serial"),
			Make: rapid.String().Draw(t, "make"), Remarks: rapid.String().Draw(t, "remarks"),
			OtherSerials: rapid.SliceOfN(rapid.String(), 1, 4).Draw(t, "others"),
		}
		b, _ := r.MarshalBinary()
		var got Record
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(r, got) {
			t.Fatalf("round trip: %+v != %+v", got, r)
		}
		// The decoded record owns its strings: the bytes may be a read transaction's, reused after.
		for i := range b {
			b[i] = 0xff
		}
		if !reflect.DeepEqual(r, got) {
			t.Fatalf("decoded record changed with the bytes it came from: %+v != %+v", got, r)
		}
		b, _ = r.MarshalBinary()
		// Every truncation is rejected, never a panic.
		for i := 0; i < len(b); i++ {
			var x Record
			if err := x.UnmarshalBinary(b[:i]); err == nil {
				t.Fatalf("truncated at %d accepted", i)
			}
		}
	})
}
