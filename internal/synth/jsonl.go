package synth

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/fedarms/fedarms/internal/record"
)

// WriteJSONLines writes the first n records of seed's sequence to w, one JSON object per line,
// with the field names of the record contract.
func WriteJSONLines(w io.Writer, n int, seed int64) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	g := New(seed)
	var line []byte
	for i := range n {
		rec := g.Next()
		line = AppendJSON(line[:0], &rec)
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("write record %d: %w", i+1, err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("flush records: %w", err)
	}
	return nil
}

// AppendJSON appends rec as one JSON object, equivalent to encoding/json's output for
// record.Record (same names, same omitempty fields) but several times faster, which matters
// when generating a full-size federation.
func AppendJSON(b []byte, rec *record.Record) []byte {
	b = append(b, `{"id":`...)
	b = appendString(b, rec.ID)
	b = append(b, `,"serial":`...)
	b = appendString(b, rec.Serial)
	if len(rec.OtherSerials) > 0 {
		b = append(b, `,"other_serials":[`...)
		for i, s := range rec.OtherSerials {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"make":`...)
	b = appendString(b, rec.Make)
	b = appendOptional(b, `,"model":`, rec.Model)
	b = append(b, `,"calibre":`...)
	b = appendString(b, rec.Calibre)
	b = append(b, `,"type":`...)
	b = appendString(b, rec.Type)
	b = appendOptional(b, `,"country_of_manufacture":`, rec.CountryOfManufacture)
	b = append(b, `,"recording_country":`...)
	b = appendString(b, rec.RecordingCountry)
	b = append(b, `,"status":`...)
	b = appendString(b, rec.Status)
	b = appendOptional(b, `,"event_date":`, rec.EventDate)
	b = appendOptional(b, `,"case_reference":`, rec.CaseReference)
	b = appendOptional(b, `,"remarks":`, rec.Remarks)
	b = appendOptional(b, `,"review_date":`, rec.ReviewDate)
	return append(b, '}')
}

func appendOptional(b []byte, key, v string) []byte {
	if v == "" {
		return b
	}
	return appendString(append(b, key...), v)
}

const hexDigits = "0123456789abcdef"

// appendString appends s as a JSON string: quotes, backslashes and control characters escaped,
// invalid UTF-8 replaced as encoding/json does, everything else written as is.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
