package wire

import (
	"encoding/json"
	"math"
	"strconv"

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
	dst = record.AppendJSONString(dst, a.SearchID)
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
	dst = record.AppendJSONString(dst, r.ID)
	dst = append(dst, `,"score":`...)
	dst = appendJSONFloat(dst, r.Score)
	dst = append(dst, `,"hit":`...)
	dst = strconv.AppendBool(dst, r.Hit)
	dst = append(dst, `,"review":`...)
	dst = strconv.AppendBool(dst, r.Review)
	if r.NotificationID != "" {
		dst = append(dst, `,"notification_id":`...)
		dst = record.AppendJSONString(dst, r.NotificationID)
	}
	dst = append(dst, `,"record":`...)
	dst = record.AppendJSON(dst, r.Record)
	dst = append(dst, `,"why":`...)
	dst = appendWhy(dst, &r.Why)
	if r.Tie != 0 {
		dst = append(dst, `,"tie":`...)
		dst = strconv.AppendInt(dst, int64(r.Tie), 10)
	}
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
		dst = record.AppendJSONString(dst, kv.v)
	}
	return append(dst, '}')
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
