package record

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// codecVersion is the first byte of every encoded record, so the format can evolve.
const codecVersion = 1

// ErrCorrupt is returned when encoded bytes are not a record.
var ErrCorrupt = errors.New("record: corrupt encoding")

// AppendBinary appends the compact binary form of r to dst. The form is deterministic: the same
// record always gives the same bytes, which the shard digest relies on.
func (r *Record) AppendBinary(dst []byte) []byte {
	dst = append(dst, codecVersion)
	for _, s := range [...]string{r.ID, r.Serial, r.Make, r.Model, r.Calibre, r.Type,
		r.CountryOfManufacture, r.RecordingCountry, r.Status, r.EventDate, r.CaseReference,
		r.Remarks, r.ReviewDate} {
		dst = appendString(dst, s)
	}
	dst = binary.AppendUvarint(dst, uint64(len(r.OtherSerials)))
	for _, s := range r.OtherSerials {
		dst = appendString(dst, s)
	}
	return dst
}

// MarshalBinary encodes r; see AppendBinary.
func (r *Record) MarshalBinary() ([]byte, error) {
	return r.AppendBinary(make([]byte, 0, 128)), nil
}

// UnmarshalBinary decodes bytes made by AppendBinary. It never panics on bad input, and it accepts
// only the bytes AppendBinary makes (no over-long varint, nothing after the last field), so that one
// record has one encoding and the shard digest, which hashes encodings, has one value. The fields
// share one copy of b: a search decodes ten records, and a string per field was most of its
// allocations.
func (r *Record) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != codecVersion {
		return ErrCorrupt
	}
	d := decoder{b: b[1:], s: string(b[1:])}
	for _, p := range [...]*string{&r.ID, &r.Serial, &r.Make, &r.Model, &r.Calibre, &r.Type,
		&r.CountryOfManufacture, &r.RecordingCountry, &r.Status, &r.EventDate, &r.CaseReference,
		&r.Remarks, &r.ReviewDate} {
		*p = d.string()
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return ErrCorrupt
	}
	r.OtherSerials = nil
	if n > 0 {
		r.OtherSerials = make([]string, n)
		for i := range r.OtherSerials {
			r.OtherSerials[i] = d.string()
		}
	}
	if d.bad || len(d.b) != 0 {
		return ErrCorrupt
	}
	return nil
}

func appendString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

// decoder reads b; with s set (a copy of b), strings are cut from s rather than copied one by one.
type decoder struct {
	b   []byte
	s   string
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 || n != uvarintLen(v) {
		d.bad = true
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad = true
		d.b = nil
		return ""
	}
	var s string
	if d.s != "" {
		off := len(d.s) - len(d.b)
		s = d.s[off : off+int(n)]
	} else {
		s = string(d.b[:n])
	}
	d.b = d.b[n:]
	return s
}

// uvarintLen is the length of the shortest (the only accepted) encoding of v.
func uvarintLen(v uint64) int { return max(1, (bits.Len64(v)+6)/7) }

func (d *decoder) skip() {
	n := d.uvarint()
	if d.bad || n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return
	}
	d.b = d.b[n:]
}

// IDOf returns the id of an encoded record, checking that the whole encoding is one UnmarshalBinary
// accepts, without decoding the other fields: a snapshot stores records as they arrive.
func IDOf(b []byte) (string, error) {
	if len(b) == 0 || b[0] != codecVersion {
		return "", ErrCorrupt
	}
	d := decoder{b: b[1:]}
	id := d.string()
	for range 12 { // the other text fields
		d.skip()
	}
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		return "", ErrCorrupt
	}
	for i := uint64(0); i < n && !d.bad; i++ {
		d.skip()
	}
	if d.bad || len(d.b) != 0 {
		return "", ErrCorrupt
	}
	return id, nil
}
