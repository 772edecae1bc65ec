package synth

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/fedarms/fedarms/internal/record"
)

func TestAppendJSONRoundTrips(t *testing.T) {
	recs := sample()[:20_000]
	extra := []record.Record{
		{ID: "X-1", Serial: "a\"b\\c\n\t\x01", Make: "Ижмаш", Calibre: "9×19", Type: "other",
			RecordingCountry: "RU", Status: "lost", Remarks: "line1\r\nline2 <&> \u2028"},
		{ID: "X-2", Serial: "bad\xffutf8", Make: "m", Calibre: "c", Type: "pistol", RecordingCountry: "FR",
			Status: "stolen", OtherSerials: []string{"1", "2"}},
	}
	for i, rec := range append(recs, extra...) {
		line := record.AppendJSON(nil, &rec)
		var got record.Record
		if err := json.Unmarshal(line, &got); err != nil {
			t.Fatalf("record %d: %v\n%s", i, err, line)
		}
		want := rec
		if i == len(recs)+1 {
			want.Serial = "bad\ufffdutf8" // encoding/json replaces invalid bytes the same way
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("record %d round trip:\n got %+v\nwant %+v", i, got, want)
		}
		// The same bytes as encoding/json.
		if std, _ := json.Marshal(rec); !bytes.Equal(line, std) {
			t.Fatalf("record %d differs from encoding/json:\n%s\n%s", i, line, std)
		}
	}
}

func TestWriteJSONLines(t *testing.T) {
	var buf bytes.Buffer
	if err := WriteJSONLines(&buf, 1000, 42); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(&buf)
	n := 0
	for sc.Scan() {
		var r record.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %d: %v", n+1, err)
		}
		if !reflect.DeepEqual(r, sample()[n]) {
			t.Fatalf("line %d is not record %d of seed 42", n+1, n)
		}
		n++
	}
	if n != 1000 {
		t.Fatalf("got %d lines, want 1000", n)
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after -= len(p); w.after < 0 {
		return 0, errors.New("disk full")
	}
	return len(p), nil
}

func TestWriteJSONLinesReportsWriteError(t *testing.T) {
	err := WriteJSONLines(&failingWriter{after: 1 << 20}, 100_000, 1)
	if err == nil {
		t.Fatal("write error was swallowed")
	}
}

func BenchmarkNext(b *testing.B) {
	b.ReportAllocs()
	g := New(1)
	for b.Loop() {
		g.Next()
	}
}

// BenchmarkWriteJSONLines compares the hand-written encoder with encoding/json as the naive
// baseline; records/s is the number to compare with the 1.4 million records of a full federation.
func BenchmarkWriteJSONLines(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("records=%d/append", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := WriteJSONLines(io.Discard, n, 1); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
		b.Run(fmt.Sprintf("records=%d/encoding-json", n), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bw := bufio.NewWriterSize(io.Discard, 256<<10)
				enc := json.NewEncoder(bw)
				g := New(1)
				for range n {
					r := g.Next()
					if err := enc.Encode(&r); err != nil {
						b.Fatal(err)
					}
				}
				_ = bw.Flush()
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "records/s")
		})
	}
}
