package wire

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
)

// decodeSame fails t unless DecodeSearchRequest and DecodeStrict give line the same answer: the
// same request, or errors with the same text.
func decodeSame(t *testing.T, line []byte) {
	t.Helper()
	var fast, strict SearchRequest
	errFast := DecodeSearchRequest(line, &fast)
	errStrict := DecodeStrict(bytes.NewReader(line), &strict)
	if fast != strict || (errFast == nil) != (errStrict == nil) || errFast != nil && errFast.Error() != errStrict.Error() {
		t.Fatalf("%q:\nDecodeSearchRequest %+v, %v\nDecodeStrict        %+v, %v", line, fast, errFast, strict, errStrict)
	}
	var we *Error
	if errFast != nil && !errors.As(errFast, &we) {
		t.Fatalf("%q: error %v is not a wire error", line, errFast)
	}
}

// TestDecodeSearchRequestIsDecodeStrict compares the two decoders on lines built from the pieces
// a request is made of, well formed and not: other keys and cases, repeated keys, escapes, nulls,
// numbers in every form, bytes that are not UTF-8, NUL, trailing data.
func TestDecodeSearchRequestIsDecodeStrict(t *testing.T) {
	fixed := []string{
		`{"serial":"BXK 0123","make":"Glock","model":"17","on_behalf_of":"KE-CUSTOMS","limit":10}`,
		` { "serial" : "A1" , "limit" : 0 , "urgent" : true } `, `{}`, ` {} `, `{"serial":"x"}x`, `{"serial":"x"} {}`,
		`{"Serial":"x"}`, `{"serial":"x","serial":"y"}`, `{"serial":null}`, `{"limit":-1}`, `{"limit":1.5}`,
		`{"limit":1e2}`, `{"limit":01}`, `{"limit":"10"}`, `{"limit":99999999999999999999}`, `{"urgent":1}`,
		`{"serial":"a\"b"}`, `{"serial":"a\u0041"}`, "{\"serial\":\"a\x00\"}", "{\"serial\":\"\xff\"}", `{"serial":"é日本"}`,
		`{"serial":"<&>"}`, `[]`, `"x"`, ``, ` `, `{`, `{"serial"}`, `{"serial":}`, `{"serial":"x",}`, `{,}`,
		`{"extra":1}`, `{"serial":"x","type":"pistol","calibre":"9mm","reference":"r-1","urgent":false}`,
		"{\"serial\":\"x\"\t,\r\n\"limit\":7}", `{"serial":"x"`, `{"limit":10`, `{"urgent":tru}`, `{"urgent":true`,
	}
	for _, s := range fixed {
		decodeSame(t, []byte(s))
	}
	rng := rand.New(rand.NewPCG(5, 11))
	keys := []string{`"serial"`, `"make"`, `"model"`, `"calibre"`, `"type"`, `"on_behalf_of"`, `"reference"`, `"limit"`,
		`"urgent"`, `"Make"`, `"MODEL"`, `"other"`, `"seria\u006c"`, `""`}
	values := []string{`"WA39657"`, `"Beretta"`, `""`, `"a b"`, `"\n"`, `"a\\b"`, `"é"`, "\"\xc3\"", `10`, `0`, `007`, `-3`,
		`2.0`, `true`, `false`, `null`, `[]`, `{}`, `"x\u0000"`, `123456789`, `1234567890`}
	space := []string{"", "", " ", "\t", "\n "}
	for range 20000 {
		var b strings.Builder
		b.WriteString(space[rng.IntN(len(space))] + "{")
		for k := range rng.IntN(5) {
			if k > 0 {
				b.WriteString(space[rng.IntN(len(space))] + ",")
			}
			b.WriteString(space[rng.IntN(len(space))] + keys[rng.IntN(len(keys))] + space[rng.IntN(len(space))] + ":" +
				space[rng.IntN(len(space))] + values[rng.IntN(len(values))])
		}
		b.WriteString(space[rng.IntN(len(space))] + "}" + space[rng.IntN(len(space))])
		line := []byte(b.String())
		if rng.IntN(10) == 0 && len(line) > 0 { // a byte cut, doubled or replaced
			i := rng.IntN(len(line))
			switch rng.IntN(3) {
			case 0:
				line = append(line[:i:i], line[i+1:]...)
			case 1:
				line = append(line[:i+1:i+1], line[i:]...)
			default:
				const noise = "{}[]\":,\\ 0a\x00\xff"
				line[i] = noise[rng.IntN(len(noise))]
			}
		}
		decodeSame(t, line)
	}
}

func FuzzDecodeSearchRequest(f *testing.F) {
	for _, s := range []string{`{"serial":"BXK 0123","make":"Glock","limit":10}`, `{"serial":"x","serial":"y"}`,
		`{"urgent":true,"limit":0}`, `{"Serial":"x"}`, "{\"serial\":\"\xff\"}"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) { decodeSame(t, line) })
}
