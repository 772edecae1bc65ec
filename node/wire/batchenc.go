package wire

import (
	"encoding/json"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/matcher"
)

// BatchLines are screening answers already encoded: whole JSON lines, each ending in a newline,
// written out as they are. A screening encodes its answers where they are matched, on every CPU,
// rather than one by one where they are written.
type BatchLines []byte

// AppendBatchAnswer appends a's JSON line (the bytes encoding/json's Encoder writes for it, the
// newline included) to dst. It writes the fields by hand: a screening encodes a million of these,
// and reflection was a tenth of its CPU. TestAppendBatchAnswerIsEncodingJSON holds it to
// encoding/json's output byte for byte; a score that JSON cannot carry falls back to encoding/json
// and its error.
func AppendBatchAnswer(dst []byte, a BatchAnswer) ([]byte, error) {
	for i := range a.Results {
		if s := a.Results[i].Score; math.IsNaN(s) || math.IsInf(s, 0) {
			_, err := json.Marshal(a)
			return dst, err
		}
	}
	dst = append(dst, `{"line":`...)
	dst = strconv.AppendInt(dst, int64(a.Line), 10)
	dst = append(dst, `,"search_id":`...)
	dst = appendJSONString(dst, a.SearchID)
	dst = append(dst, `,"results":`...)
	if a.Results == nil {
		dst = append(dst, "null"...)
	} else {
		dst = append(dst, '[')
		for i := range a.Results {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendSearchResult(dst, &a.Results[i])
		}
		dst = append(dst, ']')
	}
	return append(dst, "}\n"...), nil
}

func appendSearchResult(dst []byte, r *SearchResult) []byte {
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, r.ID)
	dst = append(dst, `,"score":`...)
	dst = appendJSONFloat(dst, r.Score)
	dst = append(dst, `,"hit":`...)
	dst = strconv.AppendBool(dst, r.Hit)
	dst = append(dst, `,"review":`...)
	dst = strconv.AppendBool(dst, r.Review)
	if r.NotificationID != "" {
		dst = append(dst, `,"notification_id":`...)
		dst = appendJSONString(dst, r.NotificationID)
	}
	dst = append(dst, `,"record":`...)
	dst = appendRecord(dst, r.Record)
	dst = append(dst, `,"why":`...)
	dst = appendWhy(dst, &r.Why)
	if r.Tie != 0 {
		dst = append(dst, `,"tie":`...)
		dst = strconv.AppendInt(dst, int64(r.Tie), 10)
	}
	return append(dst, '}')
}

func appendRecord(dst []byte, r *record.Record) []byte {
	if r == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, `{"id":`...)
	dst = appendJSONString(dst, r.ID)
	dst = append(dst, `,"serial":`...)
	dst = appendJSONString(dst, r.Serial)
	if len(r.OtherSerials) > 0 {
		dst = append(dst, `,"other_serials":[`...)
		for i, s := range r.OtherSerials {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONString(dst, s)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `,"make":`...)
	dst = appendJSONString(dst, r.Make)
	dst = appendOmitEmpty(dst, `,"model":`, r.Model)
	dst = append(dst, `,"calibre":`...)
	dst = appendJSONString(dst, r.Calibre)
	dst = append(dst, `,"type":`...)
	dst = appendJSONString(dst, r.Type)
	dst = appendOmitEmpty(dst, `,"country_of_manufacture":`, r.CountryOfManufacture)
	dst = append(dst, `,"recording_country":`...)
	dst = appendJSONString(dst, r.RecordingCountry)
	dst = append(dst, `,"status":`...)
	dst = appendJSONString(dst, r.Status)
	dst = appendOmitEmpty(dst, `,"event_date":`, r.EventDate)
	dst = appendOmitEmpty(dst, `,"case_reference":`, r.CaseReference)
	dst = appendOmitEmpty(dst, `,"remarks":`, r.Remarks)
	dst = appendOmitEmpty(dst, `,"review_date":`, r.ReviewDate)
	return append(dst, '}')
}

func appendWhy(dst []byte, w *matcher.Why) []byte {
	dst = append(dst, '{')
	first := true
	for _, kv := range [...]struct{ key, v string }{{`"serial":`, w.Serial}, {`"make":`, w.Make},
		{`"calibre":`, w.Calibre}, {`"type":`, w.Type}, {`"model":`, w.Model}, {`"hit":`, w.Hit}, {`"tie":`, w.Tie}} {
		if kv.v == "" {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = append(dst, kv.key...)
		dst = appendJSONString(dst, kv.v)
	}
	return append(dst, '}')
}

func appendOmitEmpty(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendJSONString(append(dst, key...), v)
}

// appendJSONFloat writes f as encoding/json does: the shortest representation, exponent form
// only below 1e-6 or from 1e21, with a one-digit negative exponent written without its zero.
func appendJSONFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s quoted as encoding/json does with HTML escaping (its default):
// <, > and & as \u00XX, control characters as their short or \u00XX escapes, invalid UTF-8 as
// \ufffd, and U+2028 and U+2029 escaped.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
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
