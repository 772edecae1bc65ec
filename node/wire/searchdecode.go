package wire

import (
	"bytes"
	"unicode/utf8"
)

// DecodeSearchRequest decodes one search request (a line of a screening) into *req, which must be
// the zero value, exactly as DecodeStrict would: the same request, or DecodeStrict's refusal. The
// lines a screening reads nearly all look alike (a flat object of the request's own keys, strings
// without escapes, a plain limit), and those are read here without reflection or a second walk;
// anything else (an escape, another key or case, a repeated key, a null, a number in another form,
// bytes that are not UTF-8) goes through DecodeStrict. TestDecodeSearchRequestIsDecodeStrict and
// FuzzDecodeSearchRequest hold the two to the same answers. Decoding was a twentieth of a
// screened line's time.
func DecodeSearchRequest(b []byte, req *SearchRequest) error {
	if fastSearchRequest(b, req) {
		return nil
	}
	*req = SearchRequest{}
	return DecodeStrict(bytes.NewReader(b), req)
}

// fastSearchRequest decodes b into req when b is a request of the common form, reporting whether
// it was; req may be partly set when it was not.
func fastSearchRequest(b []byte, req *SearchRequest) bool {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '{' {
		return false
	}
	i = skipSpace(b, i+1)
	var seen uint16
	if i < len(b) && b[i] == '}' {
		return allSpace(b, i+1)
	}
	for {
		key, j, ok := plainString(b, i)
		if !ok {
			return false
		}
		i = skipSpace(b, j)
		if i >= len(b) || b[i] != ':' {
			return false
		}
		i = skipSpace(b, i+1)
		bit, field := searchField(req, key)
		if bit == 0 || seen&bit != 0 {
			return false // another key (or case), or a repeated one: DecodeStrict says what it is
		}
		seen |= bit
		switch {
		case field != nil:
			v, j, ok := plainString(b, i)
			if !ok {
				return false
			}
			*field, i = string(v), j
		case bit == bitLimit:
			j := i
			for j < len(b) && b[j] >= '0' && b[j] <= '9' {
				j++
			}
			if n := j - i; n == 0 || n > 9 || n > 1 && b[i] == '0' {
				return false
			}
			req.Limit = 0
			for _, c := range b[i:j] {
				req.Limit = req.Limit*10 + int(c-'0')
			}
			i = j
		default: // urgent
			switch {
			case bytes.HasPrefix(b[i:], []byte("true")):
				req.Urgent, i = true, i+4
			case bytes.HasPrefix(b[i:], []byte("false")):
				req.Urgent, i = false, i+5
			default:
				return false
			}
		}
		i = skipSpace(b, i)
		if i >= len(b) {
			return false
		}
		switch b[i] {
		case ',':
			i = skipSpace(b, i+1)
		case '}':
			return allSpace(b, i+1)
		default:
			return false
		}
	}
}

const (
	bitLimit  = 1 << 7
	bitUrgent = 1 << 8
)

// searchField returns the bit of key among the request's keys (0: not one, as written) and, for
// a string field, where its value goes.
func searchField(req *SearchRequest, key []byte) (uint16, *string) {
	switch string(key) {
	case "serial":
		return 1 << 0, &req.Serial
	case "make":
		return 1 << 1, &req.Make
	case "model":
		return 1 << 2, &req.Model
	case "calibre":
		return 1 << 3, &req.Calibre
	case "type":
		return 1 << 4, &req.Type
	case "on_behalf_of":
		return 1 << 5, &req.OnBehalfOf
	case "reference":
		return 1 << 6, &req.Reference
	case "limit":
		return bitLimit, nil
	case "urgent":
		return bitUrgent, nil
	}
	return 0, nil
}

// plainString reads the JSON string at b[i:] when it has no escape, no control character and is
// valid UTF-8, returning its contents and the index after its closing quote.
func plainString(b []byte, i int) ([]byte, int, bool) {
	if i >= len(b) || b[i] != '"' {
		return nil, 0, false
	}
	ascii := true
	for j := i + 1; j < len(b); j++ {
		switch c := b[j]; {
		case c == '"':
			s := b[i+1 : j]
			if !ascii && !utf8.Valid(s) {
				return nil, 0, false
			}
			return s, j + 1, true
		case c == '\\' || c < 0x20:
			return nil, 0, false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return nil, 0, false
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

func allSpace(b []byte, i int) bool { return skipSpace(b, i) == len(b) }
