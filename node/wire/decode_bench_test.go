package wire

import (
	"bytes"
	"encoding/json"
	"testing"
)

// BenchmarkDecodeSearchRequest: a search body through DecodeStrict (strict keys, duplicates, UTF-8,
// NUL) beside encoding/json's decoder with unknown fields refused, the check before strict JSON.
func BenchmarkDecodeSearchRequest(b *testing.B) {
	body := []byte(`{"serial":"BXK 0123","make":"Glock","model":"17","on_behalf_of":"KE-CUSTOMS","limit":10}`)
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r SearchRequest
			if err := DecodeStrict(bytes.NewReader(body), &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("baseline-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r SearchRequest
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&r); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkDecodeSearchRequestLine: a screening's line through DecodeSearchRequest (the common form
// read directly) beside DecodeStrict.
func BenchmarkDecodeSearchRequestLine(b *testing.B) {
	line := []byte(`{"serial":"WA39657","make":"Beretta","model":"1301"}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r SearchRequest
			if err := DecodeSearchRequest(line, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("strict", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r SearchRequest
			if err := DecodeStrict(bytes.NewReader(line), &r); err != nil {
				b.Fatal(err)
			}
		}
	})
}
