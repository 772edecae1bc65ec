package record

import "unicode/utf8"

// AppendJSON and AppendJSONString write what encoding/json writes for a Record and a string, byte
// for byte (HTML escaping included), without reflection: the screening answers every line with
// records (node/wire), and the generator writes millions of them (internal/synth).

// AppendJSON appends r as encoding/json encodes a *Record (null for nil).
func AppendJSON(dst []byte, r *Record) []byte {
	if r == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":`...)
	dst = AppendJSONString(dst, r.ID)
	dst = append(dst, `,"serial":`...)
	dst = AppendJSONString(dst, r.Serial)
	if len(r.OtherSerials) > 0 {
		dst = append(dst, `,"other_serials":`...)
		dst = AppendJSONStrings(dst, r.OtherSerials)
	}
	dst = append(dst, `,"make":`...)
	dst = AppendJSONString(dst, r.Make)
	dst = appendOmitEmpty(dst, `,"model":`, r.Model)
	dst = append(dst, `,"calibre":`...)
	dst = AppendJSONString(dst, r.Calibre)
	dst = append(dst, `,"type":`...)
	dst = AppendJSONString(dst, r.Type)
	dst = appendOmitEmpty(dst, `,"country_of_manufacture":`, r.CountryOfManufacture)
	dst = append(dst, `,"recording_country":`...)
	dst = AppendJSONString(dst, r.RecordingCountry)
	dst = append(dst, `,"status":`...)
	dst = AppendJSONString(dst, r.Status)
	dst = appendOmitEmpty(dst, `,"event_date":`, r.EventDate)
	dst = appendOmitEmpty(dst, `,"case_reference":`, r.CaseReference)
	dst = appendOmitEmpty(dst, `,"remarks":`, r.Remarks)
	dst = appendOmitEmpty(dst, `,"review_date":`, r.ReviewDate)
	return append(dst, '}')
}

func appendOmitEmpty(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return AppendJSONString(append(dst, key...), v)
}

const hexDigits = "0123456789abcdef"

// jsonPlain holds the bytes AppendJSONString copies as they are: printable ASCII but for ", \, <, >
// and &. Bytes from 0x80 are not plain: they start a rune that is checked.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

// AppendJSONStrings appends ss as a JSON array of strings, each as AppendJSONString writes it.
func AppendJSONStrings(dst []byte, ss []string) []byte {
	dst = append(dst, '[')
	for i, s := range ss {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendJSONString(dst, s)
	}
	return append(dst, ']')
}

// AppendJSONString appends s quoted as encoding/json does with HTML escaping (its default):
// <, > and & as \u00XX, control characters as their short or \u00XX escapes, invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 escaped.
//
// Nearly every string a screening writes (ids, serials, makes, dates) has nothing to escape: it is
// scanned once with a table and appended whole.
func AppendJSONString(dst []byte, s string) []byte {
	i := 0
	for i < len(s) && jsonPlain[s[i]] {
		i++
	}
	dst = append(dst, '"')
	if i == len(s) {
		dst = append(dst, s...)
		return append(dst, '"')
	}
	start := 0
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if jsonPlain[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '\\', '"':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
