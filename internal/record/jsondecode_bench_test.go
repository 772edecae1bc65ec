package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
)

// decodeLine is one way to turn an import line into a Record; the benchmarks set the fast decoder
// beside the encoding/json baseline it replaces.
type decodeLine func(r *Record, b []byte) error

var lineDecoders = []struct {
	name   string
	decode decodeLine
}{
	{"decoder=line", func(r *Record, b []byte) error { return r.UnmarshalJSONLine(b) }},
	{"decoder=encoding_json", func(r *Record, b []byte) error {
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		*r = Record{}
		return dec.Decode(r)
	}},
}

func BenchmarkUnmarshalJSONLine(b *testing.B) {
	for _, line := range []struct{ name, text string }{
		{"line=realistic", realisticLine},
		{"line=escaped", escapedLine},
	} {
		for _, d := range lineDecoders {
			b.Run(line.name+"/"+d.name, func(b *testing.B) {
				in := []byte(line.text)
				var r Record
				b.ReportAllocs()
				b.SetBytes(int64(len(in)))
				for b.Loop() {
					if err := d.decode(&r, in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkUnmarshalJSONLines decodes a batch of varied lines, as an import does, so the cost per
// record can be read off across batch sizes.
func BenchmarkUnmarshalJSONLines(b *testing.B) {
	for _, n := range []int{1, 100, 10000} {
		lines := benchLines(n)
		for _, d := range lineDecoders {
			b.Run(fmt.Sprintf("records=%d/%s", n, d.name), func(b *testing.B) {
				var r Record
				b.ReportAllocs()
				for b.Loop() {
					for _, line := range lines {
						if err := d.decode(&r, line); err != nil {
							b.Fatal(err)
						}
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/record")
			})
		}
	}
}

// benchLines writes n deterministic records the way an export would; one in four carries other
// serials and remarks that need escaping.
func benchLines(n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	makes := []string{"Glock", "Beretta", "Česká zbrojovka", "Smith & Wesson", "Kalashnikov"}
	countries := []string{"FR", "DE", "AT", "IT", "US", "KE", "BR"}
	lines := make([][]byte, n)
	for i := range lines {
		r := Record{
			ID:                   fmt.Sprintf("%s-2019-%06d", countries[i%len(countries)], i),
			Serial:               fmt.Sprintf("BXK %04d", rng.IntN(10000)),
			Make:                 makes[rng.IntN(len(makes))],
			Model:                fmt.Sprint(rng.IntN(100)),
			Calibre:              "9x19",
			Type:                 Types[rng.IntN(len(Types))],
			CountryOfManufacture: countries[rng.IntN(len(countries))],
			RecordingCountry:     countries[i%len(countries)],
			Status:               Statuses[rng.IntN(len(Statuses))],
			EventDate:            fmt.Sprintf("20%02d-%02d-%02d", rng.IntN(25), 1+rng.IntN(12), 1+rng.IntN(28)),
			CaseReference:        fmt.Sprintf("NCB-%d", rng.IntN(1e6)),
		}
		if i%4 == 0 {
			r.OtherSerials = []string{fmt.Sprintf("SL-%d", rng.IntN(1000)), "barrel \"7\""}
			r.Remarks = "seen at <border>\n\tcrossing é"
		}
		line, err := json.Marshal(r)
		if err != nil {
			panic(err)
		}
		lines[i] = line
	}
	return lines
}
