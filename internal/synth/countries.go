package synth

import (
	"math/rand/v2"
	"sort"
)

// weighted is an item with a relative weight.
type weighted struct {
	id string
	w  float64
}

// picker draws indexes in proportion to their weights.
type picker struct{ cum []float64 }

func newPicker(ws []float64) picker {
	p := picker{cum: make([]float64, len(ws))}
	sum := 0.0
	for i, w := range ws {
		sum += w
		p.cum[i] = sum
	}
	return p
}

func (p picker) pick(r *rand.Rand) int {
	x := r.Float64() * p.cum[len(p.cum)-1]
	return sort.SearchFloat64s(p.cum, x)
}

// recordingWeights are the countries whose NCBs record firearms, with weights loosely following
// the size of their civilian stocks, their trafficking exposure and their use of the system.
var recordingWeights = []weighted{
	{"US", 160}, {"ZA", 45}, {"BR", 45}, {"MX", 35}, {"CO", 30}, {"FR", 30}, {"DE", 30}, {"GB", 28},
	{"UA", 25}, {"RU", 20}, {"IT", 22}, {"ES", 18}, {"AR", 20}, {"AU", 15}, {"CA", 15}, {"KE", 12},
	{"NG", 12}, {"PH", 12}, {"TR", 12}, {"SE", 8}, {"NL", 8}, {"BE", 10}, {"CH", 5}, {"AT", 6},
	{"PL", 8}, {"CZ", 6}, {"RO", 6}, {"BG", 6}, {"RS", 8}, {"HR", 5}, {"BA", 6}, {"AL", 5}, {"GR", 6},
	{"IL", 4}, {"BY", 3}, {"KZ", 4}, {"GE", 3}, {"AM", 2}, {"AZ", 2}, {"MD", 3}, {"LT", 2}, {"LV", 2},
	{"EE", 2}, {"FI", 4}, {"NO", 3}, {"DK", 3}, {"IE", 3}, {"PT", 5}, {"HU", 4}, {"SK", 3}, {"SI", 2},
	{"ME", 2}, {"MK", 2}, {"CY", 1}, {"MT", 1}, {"LU", 1}, {"IS", 0.5}, {"VE", 10}, {"PE", 8},
	{"CL", 8}, {"EC", 8}, {"GT", 8}, {"HN", 8}, {"SV", 6}, {"CR", 4}, {"PA", 4}, {"JM", 6}, {"TT", 5},
	{"DO", 4}, {"HT", 3}, {"BO", 3}, {"PY", 4}, {"UY", 4}, {"BS", 2}, {"BB", 1}, {"GY", 1}, {"NI", 2},
	{"BZ", 1}, {"TZ", 5}, {"UG", 5}, {"ET", 3}, {"GH", 5}, {"CM", 4}, {"CI", 3}, {"SN", 3}, {"SD", 3},
	{"SS", 3}, {"CD", 5}, {"CF", 2}, {"ML", 2}, {"NE", 2}, {"BF", 2}, {"TD", 2}, {"ZW", 4}, {"ZM", 3},
	{"MZ", 4}, {"MW", 2}, {"BW", 2}, {"NA", 2}, {"AO", 3}, {"SO", 2}, {"RW", 1}, {"BJ", 1}, {"TG", 1},
	{"SL", 1}, {"LR", 1}, {"GN", 1}, {"MG", 1}, {"EG", 5}, {"MA", 4}, {"DZ", 4}, {"TN", 3}, {"LY", 3},
	{"JO", 3}, {"LB", 3}, {"IQ", 4}, {"SY", 2}, {"SA", 3}, {"AE", 3}, {"KW", 1}, {"QA", 1}, {"BH", 1},
	{"OM", 1}, {"YE", 2}, {"IR", 2}, {"PS", 1}, {"IN", 8}, {"PK", 6}, {"AF", 3}, {"BD", 3}, {"LK", 2},
	{"NP", 1}, {"CN", 3}, {"JP", 3}, {"KR", 3}, {"TH", 6}, {"MY", 4}, {"ID", 5}, {"VN", 2}, {"KH", 2},
	{"MM", 2}, {"SG", 1}, {"NZ", 4}, {"PG", 2}, {"FJ", 1}, {"MN", 1}, {"TW", 1}, {"HK", 1},
}

// cyrillicCountries write serials and makes in Cyrillic as often as not.
var cyrillicCountries = map[string]bool{"RU": true, "UA": true, "BY": true, "KZ": true, "BG": true, "RS": true, "MK": true, "MN": true}

const (
	firstYear = 1990
	lastYear  = 2026
)

// lastDay is the last event date generated (days since the Unix epoch): the end of October of
// lastYear, so that recent records are present without dates in the future of a 2026 demo.
var lastDay = daysFromCivil(lastYear, 10, 31)

// daysFromCivil converts a proleptic Gregorian date to days since 1970-01-01.
func daysFromCivil(y, m, d int) int {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil (valid for dates after year 0).
func civilFromDays(z int) (y, m, d int) {
	z += 719468
	era := z / 146097
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return y, m, d
}

// appendDate appends days (since the epoch) as YYYY-MM-DD.
func appendDate(b []byte, days int) []byte {
	y, m, d := civilFromDays(days)
	b = appendInt(b, uint64(y), 4)
	b = append(b, '-')
	b = appendInt(b, uint64(m), 2)
	b = append(b, '-')
	return appendInt(b, uint64(d), 2)
}
