package node

import (
	"strconv"

	"github.com/fedarms/fedarms/internal/record"
)

// appendAuditedQuery appends q as encoding/json encodes it (TestAppendAuditedQueryIsEncodingJSON
// holds it to those bytes, every field of wire.SearchRequest included): a screening records a
// million queries, and reflection was a sixth of what answering a line cost beside the encoding of
// its results.
func appendAuditedQuery(dst []byte, q *auditedSearch) []byte {
	dst = append(dst, `{"search_id":`...)
	dst = record.AppendJSONString(dst, q.SearchID)
	if q.Batch != "" {
		dst = append(dst, `,"batch":`...)
		dst = record.AppendJSONString(dst, q.Batch)
	}
	for _, f := range [...]struct{ key, v string }{{`,"serial":`, q.Serial}, {`,"make":`, q.Make},
		{`,"model":`, q.Model}, {`,"calibre":`, q.Calibre}, {`,"type":`, q.Type},
		{`,"on_behalf_of":`, q.OnBehalfOf}, {`,"reference":`, q.Reference}} {
		dst = append(dst, f.key...)
		dst = record.AppendJSONString(dst, f.v)
	}
	dst = append(dst, `,"limit":`...)
	dst = strconv.AppendInt(dst, int64(q.Limit), 10)
	if q.Urgent {
		dst = append(dst, `,"urgent":true`...)
	}
	return append(dst, '}')
}
