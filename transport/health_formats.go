package transport

import (
	"slices"
	"strconv"
	"strings"
)

// FormatRange is what a member does with one kind of format: it reads Oldest to Newest and writes
// Writes.
type FormatRange struct {
	Oldest, Newest, Writes int
}

// EncodeFormats renders formats by kind key as Health.Formats: "c1-2/1,k1-2/1", each part a key of
// letters, the oldest and newest format read and the format written, in key order. A kind at
// format 1 only ("1-1/1") is left out, except the first key, so that something is always
// published; a reader takes a kind left out as format 1 only.
func EncodeFormats(formats map[string]FormatRange) string {
	keys := make([]string, 0, len(formats))
	for k := range formats {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		f := formats[k]
		if i > 0 && f == (FormatRange{1, 1, 1}) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(strconv.Itoa(f.Oldest))
		b.WriteByte('-')
		b.WriteString(strconv.Itoa(f.Newest))
		b.WriteByte('/')
		b.WriteString(strconv.Itoa(f.Writes))
	}
	return b.String()
}

// DecodeFormats reads Health.Formats. A part that does not parse, or that makes no sense (oldest
// above newest, a format below 1), is left out: a member's gossip is its own word, not trusted
// further than showing it and counting it ready or not.
func DecodeFormats(s string) map[string]FormatRange {
	out := map[string]FormatRange{}
	if len(s) > 512 {
		return out
	}
	for part := range strings.SplitSeq(s, ",") {
		i := strings.IndexFunc(part, func(r rune) bool { return r >= '0' && r <= '9' })
		if i <= 0 {
			continue
		}
		key, rest := part[:i], part[i:]
		rng, w, ok := strings.Cut(rest, "/")
		lo, hi, ok2 := strings.Cut(rng, "-")
		if !ok || !ok2 {
			continue
		}
		var f FormatRange
		var e1, e2, e3 error
		f.Oldest, e1 = strconv.Atoi(lo)
		f.Newest, e2 = strconv.Atoi(hi)
		f.Writes, e3 = strconv.Atoi(w)
		if e1 != nil || e2 != nil || e3 != nil || f.Oldest < 1 || f.Oldest > f.Newest || f.Writes < 1 || f.Newest > 1<<16 {
			continue
		}
		out[key] = f
	}
	return out
}
