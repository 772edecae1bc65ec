package record

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// Fuzz targets for the record decoders that read bytes from the network or the disk: the binary
// form (raft commands, snapshots and state files carry it) and the JSON line an import reads
// (FuzzUnmarshalJSONLine, in jsondecode_test.go). scripts/fuzz.sh runs them for longer.

// fullRecord sets every field, other serials too, so the seeds reach every branch of the codec.
func fullRecord() Record {
	return Record{ID: "FR-2019-004512", Serial: "BXK 0123", OtherSerials: []string{"BXK0123", "A-1"},
		Make: "Glock", Model: "17", Calibre: "9x19", Type: "pistol", CountryOfManufacture: "AT",
		RecordingCountry: "FR", Status: "stolen", EventDate: "2019-03-01", CaseReference: "PJ/75/2019/0412",
		Remarks: "slide engraved \"P.\"; é", ReviewDate: "2029-03-01"}
}

// FuzzRecordBinary decodes arbitrary bytes as a record's binary form. What decodes must re-encode to
// exactly the input (the form is canonical: the shard digest hashes it), IDOf must accept exactly
// what decodes, and a decoded record that validates must come back the same through its JSON form.
func FuzzRecordBinary(f *testing.F) {
	full := fullRecord()
	f.Add(full.AppendBinary(nil))
	f.Add((&Record{}).AppendBinary(nil))
	v := valid()
	f.Add(v.AppendBinary(nil))
	f.Add(full.AppendBinary(nil)[:20])                                                           // truncated
	f.Add(append([]byte{codecVersion}, binary.AppendUvarint(nil, 1<<62)...))                     // a huge length
	f.Add(append(bytes.Repeat([]byte{codecVersion, 0}, 7), binary.AppendUvarint(nil, 1<<40)...)) // huge count
	f.Add(append(append([]byte{codecVersion}, make([]byte, 13)...), 0xff, 0xff, 0xff))           // count is a cut varint
	f.Add([]byte{2})                                                                             // a later version
	f.Add(append([]byte{codecVersion, 0x80, 0}, make([]byte, 13)...))                            // an over-long length
	f.Fuzz(func(t *testing.T, b []byte) {
		var r Record
		err := r.UnmarshalBinary(b)
		id, idErr := IDOf(b)
		if (err == nil) != (idErr == nil) {
			t.Fatalf("UnmarshalBinary says %v, IDOf says %v", err, idErr)
		}
		if err != nil {
			return
		}
		if re := r.AppendBinary(nil); !bytes.Equal(re, b) {
			t.Fatalf("decoded %#v re-encodes as %x, want %x", r, re, b)
		}
		if id != r.ID {
			t.Fatalf("IDOf = %q, %v; the record's id is %q", id, idErr, r.ID)
		}
		if len(r.OtherSerials) > len(b) {
			t.Fatalf("%d other serials from %d bytes", len(r.OtherSerials), len(b))
		}
		// A record that validates round-trips through its JSON form as well.
		r.Normalize()
		if r.Validate(func(c string) bool { return len(c) == 2 && strings.ToUpper(c) == c }) == nil {
			line, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var back Record
			if err := back.UnmarshalJSONLine(line); err != nil {
				t.Fatalf("valid record %#v: its JSON %s does not decode: %v", r, line, err)
			}
			if !reflect.DeepEqual(back, r) {
				t.Fatalf("valid record %#v comes back from JSON as %#v", r, back)
			}
		}
	})
}
