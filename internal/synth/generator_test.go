package synth

import (
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/reference"
)

// sample is a shared 200k-record sequence; generating it once keeps the race-enabled run short.
var sample = sync.OnceValue(func() []record.Record {
	g := New(42)
	recs := make([]record.Record, 200_000)
	for i := range recs {
		recs[i] = g.Next()
	}
	return recs
})

func TestDeterministic(t *testing.T) {
	a, b, c := New(7), New(7), New(8)
	differ := false
	for i := range 5000 {
		ra, rb, rc := a.Next(), b.Next(), c.Next()
		if !reflect.DeepEqual(ra, rb) {
			t.Fatalf("record %d differs for the same seed:\n%+v\n%+v", i, ra, rb)
		}
		if !reflect.DeepEqual(ra, rc) {
			differ = true
		}
	}
	if !differ {
		t.Error("seeds 7 and 8 gave the same sequence")
	}
}

func TestIDsUnique(t *testing.T) {
	seen := make(map[string]int, len(sample()))
	for i, r := range sample() {
		if j, dup := seen[r.ID]; dup {
			t.Fatalf("id %s at records %d and %d", r.ID, j, i)
		}
		seen[r.ID] = i
	}
}

var idPattern = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,64}$`)

func TestEveryFieldValid(t *testing.T) {
	minDate, maxDate := "1990-01-01", "2026-12-31"
	checkDate := func(i int, field, v string, hi string) {
		if _, err := time.Parse(time.DateOnly, v); err != nil {
			t.Errorf("record %d: %s %q: %v", i, field, v, err)
		} else if v < minDate || v > hi {
			t.Errorf("record %d: %s %q out of range", i, field, v)
		}
	}
	for i, r := range sample() {
		if !idPattern.MatchString(r.ID) {
			t.Errorf("record %d: bad id %q", i, r.ID)
		}
		if r.Serial == "" || r.Make == "" || r.Calibre == "" {
			t.Errorf("record %d: required field empty: %+v", i, r)
		}
		if !slices.Contains(record.Types, r.Type) {
			t.Errorf("record %d: type %q", i, r.Type)
		}
		if !slices.Contains(record.Statuses, r.Status) {
			t.Errorf("record %d: status %q", i, r.Status)
		}
		if _, ok := reference.Country(r.RecordingCountry); !ok {
			t.Errorf("record %d: recording_country %q", i, r.RecordingCountry)
		}
		if !strings.HasPrefix(r.ID, r.RecordingCountry+"-") {
			t.Errorf("record %d: id %s not prefixed by its recording country", i, r.ID)
		}
		if r.CountryOfManufacture != "" {
			if _, ok := reference.Country(r.CountryOfManufacture); !ok {
				t.Errorf("record %d: country_of_manufacture %q", i, r.CountryOfManufacture)
			}
		}
		if r.EventDate != "" {
			checkDate(i, "event_date", r.EventDate, maxDate)
		}
		if r.ReviewDate != "" {
			checkDate(i, "review_date", r.ReviewDate, "2033-12-31")
		}
		// The generator writes what the reference tables know, so every make and calibre
		// (other than "unknown") must resolve: this also checks the tables against each other.
		mk, ok := reference.LookupMake(r.Make)
		if !ok {
			t.Errorf("record %d: make %q does not resolve", i, r.Make)
		} else if r.CountryOfManufacture != "" && mk.Country != r.CountryOfManufacture {
			t.Errorf("record %d: make %s is from %s, record says %s", i, mk.ID, mk.Country, r.CountryOfManufacture)
		}
		if _, ok := reference.LookupCalibre(r.Calibre); !ok && r.Calibre != "unknown" {
			t.Errorf("record %d: calibre %q does not resolve", i, r.Calibre)
		}
		for _, o := range r.OtherSerials {
			if o == "" {
				t.Errorf("record %d: empty other serial", i)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
}

func TestDistributions(t *testing.T) {
	recs := sample()
	makes, countries, statuses := map[string]int{}, map[string]int{}, map[string]int{}
	withOther := 0
	for _, r := range recs {
		mk, _ := reference.LookupMake(r.Make)
		makes[mk.ID]++
		countries[r.RecordingCountry]++
		statuses[r.Status]++
		if len(r.OtherSerials) > 0 {
			withOther++
		}
	}
	type kv struct {
		k string
		v int
	}
	var top []kv
	for k, v := range makes {
		top = append(top, kv{k, v})
	}
	slices.SortFunc(top, func(a, b kv) int { return b.v - a.v })
	n := float64(len(recs))
	if !slices.ContainsFunc(top[:5], func(x kv) bool { return x.k == "glock" }) {
		t.Errorf("glock not among the five commonest makes: %v", top[:5])
	}
	if share := float64(top[0].v) / n; share > 0.15 {
		t.Errorf("commonest make %s has %.0f%% of records", top[0].k, share*100)
	}
	top10 := 0
	for _, x := range top[:10] {
		top10 += x.v
	}
	if share := float64(top10) / n; share < 0.35 || share > 0.75 {
		t.Errorf("top ten makes hold %.0f%% of records, want a head and a long tail", share*100)
	}
	if len(makes) < 150 {
		t.Errorf("only %d distinct makes in %d records", len(makes), len(recs))
	}
	if len(countries) < 100 {
		t.Errorf("only %d recording countries", len(countries))
	}
	if statuses["stolen"] <= statuses["lost"] || statuses["lost"] <= statuses["smuggled"] {
		t.Errorf("status mix %v: want stolen > lost > smuggled", statuses)
	}
	if share := float64(withOther) / n; share < 0.07 || share > 0.13 {
		t.Errorf("%.1f%% of records have other serials, want about 10%%", share*100)
	}
}

// TestFactoryRuns checks that near neighbours (same make, serial one apart in its last digits)
// are common, as in real data, and that a few serials repeat across makers.
func TestFactoryRuns(t *testing.T) {
	recs := sample()
	type key struct{ make, serial string }
	bySerial := map[key]bool{}
	makersOf := map[string]map[string]bool{}
	canon := func(s string) string {
		return strings.ToUpper(strings.NewReplacer(" ", "", "-", "").Replace(s))
	}
	for _, r := range recs {
		mk, _ := reference.LookupMake(r.Make)
		s := canon(r.Serial)
		bySerial[key{mk.ID, s}] = true
		if makersOf[s] == nil {
			makersOf[s] = map[string]bool{}
		}
		makersOf[s][mk.ID] = true
	}
	neighbours := 0
	for k := range bySerial {
		if next, ok := incrementLastDigits(k.serial); ok && bySerial[key{k.make, next}] {
			neighbours++
		}
	}
	if share := float64(neighbours) / float64(len(bySerial)); share < 0.2 {
		t.Errorf("only %.1f%% of serials have a neighbour one apart", share*100)
	}
	cross := 0
	for _, ms := range makersOf {
		if len(ms) > 1 {
			cross++
		}
	}
	if cross == 0 || cross > len(recs)/100 {
		t.Errorf("%d serials shared by different makers, want a few", cross)
	}
}

// incrementLastDigits adds one to the last block of digits, keeping its width.
func incrementLastDigits(s string) (string, bool) {
	b := []byte(s)
	end := len(b)
	for end > 0 && (b[end-1] < '0' || b[end-1] > '9') {
		end--
	}
	if end == 0 {
		return "", false
	}
	for i := end - 1; i >= 0 && b[i] >= '0' && b[i] <= '9'; i-- {
		if b[i] < '9' {
			b[i]++
			return string(b), true
		}
		b[i] = '0'
	}
	return "", false
}

func TestIncrementLastDigits(t *testing.T) {
	tests := []struct{ in, want string }{
		{"ABC123", "ABC124"}, {"AB129", "AB130"}, {"BER000123Z", "BER000124Z"}, {"123-45678", "123-45679"},
		{"ABC", ""}, {"99", ""},
	}
	for _, tt := range tests {
		got, _ := incrementLastDigits(tt.in)
		if got != tt.want {
			t.Errorf("incrementLastDigits(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestProfilesMatchReference(t *testing.T) {
	if _, err := buildWorld(); err != nil {
		t.Fatal(err)
	}
	for _, p := range append(append([]profile{}, majorProfiles...), moreProfiles...) {
		for _, md := range p.models {
			if !slices.Contains(record.Types, md.typ) {
				t.Errorf("%s %s: type %q", p.id, md.name, md.typ)
			}
		}
	}
	for id := range minorKinds {
		if _, ok := reference.MakeByID(id); !ok {
			t.Errorf("minorKinds: make %q not in reference table", id)
		}
	}
}
