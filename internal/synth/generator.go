package synth

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/fedarms/fedarms/internal/record"
)

// activeRuns is how many factory runs are drawn from at once; interleaving them keeps
// consecutive records from all being one run while runs still show up whole.
const activeRuns = 16

// run is one batch of firearms of one model with consecutive serials, lost or stolen together
// (a shipment, an armoury, a dealer's stock) and recorded over time.
type run struct {
	maker   *maker
	model   model
	cal     string // calibre class id
	serial  serialRun
	fixed   string // a serial copied from another maker, for the rare cross-maker repeats
	left    int
	country int // index into world.countries
	day     int // event date, days since the epoch
	status  string
}

// Generator produces a deterministic sequence of valid, realistic synthetic records.
type Generator struct {
	w        *world
	r        *rand.Rand
	runs     [activeRuns]run
	counters [][lastYear - firstYear + 2]uint32 // per recording country and id year
	recent   [512]recentSerial
	nRecent  int
	yearP    picker
	buf      []byte
}

type recentSerial struct {
	serial string
	maker  *maker
}

// New returns a generator whose sequence depends only on seed. It panics if the reference
// tables and the profiles disagree, which the package tests rule out.
func New(seed int64) *Generator {
	w, err := loadWorld()
	if err != nil {
		panic(err)
	}
	g := &Generator{
		w:        w,
		r:        rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15)),
		counters: make([][lastYear - firstYear + 2]uint32, len(w.countries)),
		buf:      make([]byte, 0, 64),
	}
	// Records grow over the years as more countries join and record more.
	ys := make([]float64, lastYear-firstYear+1)
	for i := range ys {
		ys[i] = 1 + float64(i)*0.25
	}
	g.yearP = newPicker(ys)
	return g
}

// Next returns the next record of the sequence.
func (g *Generator) Next() record.Record {
	rn := &g.runs[g.r.IntN(activeRuns)]
	if rn.left == 0 {
		g.startRun(rn)
	}
	rn.left--
	return g.recordFrom(rn)
}

func (g *Generator) startRun(rn *run) {
	r := g.r
	mk := &g.w.makers[g.w.makerP.pick(r)]
	md := mk.models[mk.modelP.pick(r)]
	cal := md.cal
	if cal == "" {
		cal = genericCalibres[md.typ][g.w.genericCal[md.typ].pick(r)].id
	}
	n := 1
	if r.IntN(100) >= 45 {
		n = 2 + int(-math.Log(1-r.Float64())*6)
		n = min(n, 50)
	}
	pattern := mk.serials[r.IntN(len(mk.serials))]
	if md.serial != "" && r.IntN(4) != 0 {
		pattern = md.serial
	}
	*rn = run{maker: mk, model: md, cal: cal, left: n, serial: startRun(r, pattern, n),
		day: g.drawDay(), status: drawStatus(r)}
	rn.country = g.drawCountry(mk)
	// Serials repeat across makers in reality; a few runs reuse an earlier maker's serial.
	if g.nRecent > 0 && r.IntN(400) == 0 {
		rs := g.recent[r.IntN(min(g.nRecent, len(g.recent)))]
		if rs.maker != mk {
			rn.fixed, rn.left = rs.serial, 1
		}
	}
}

// drawCountry picks a recording country, often in the maker's own region, since firearms are
// mostly lost or stolen near where they are sold.
func (g *Generator) drawCountry(mk *maker) int {
	if g.r.IntN(100) < 35 {
		ri := g.w.regionOf[mk.region]
		if idx := g.w.regionIdx[ri]; len(idx) > 0 {
			return idx[g.w.regionP[ri].pick(g.r)]
		}
	}
	return g.w.countryP.pick(g.r)
}

func (g *Generator) drawDay() int {
	y := firstYear + g.yearP.pick(g.r)
	start := daysFromCivil(y, 1, 1)
	end := min(daysFromCivil(y+1, 1, 1), lastDay+1)
	return start + g.r.IntN(end-start)
}

func drawStatus(r *rand.Rand) string {
	switch n := r.IntN(100); {
	case n < 60:
		return "stolen"
	case n < 80:
		return "lost"
	case n < 92:
		return "trafficked"
	default:
		return "smuggled"
	}
}

func (g *Generator) recordFrom(rn *run) record.Record {
	r, w := g.r, g.w
	country, day, status := rn.country, rn.day, rn.status
	if r.IntN(4) == 0 { // part of the run surfaced elsewhere, later
		country = g.drawCountry(rn.maker)
		if later := day + r.IntN(3*365); later <= lastDay {
			day = later
		}
		status = drawStatus(r)
	} else {
		day = min(day+r.IntN(30), lastDay)
	}
	cc := w.countries[country]
	cyr := cyrillicCountries[cc]

	serial := rn.fixed
	if serial == "" {
		serial = rn.serial.serial(r)
	}
	g.recent[g.nRecent%len(g.recent)] = recentSerial{serial: serial, maker: rn.maker}
	g.nRecent++

	year, _, _ := civilFromDays(day)
	idYear := year
	if idYear < lastYear && r.IntN(100) < 15 {
		idYear++
	}
	rec := record.Record{
		ID:               g.nextID(country, cc, idYear),
		Serial:           asRecorded(r, serial, cyr),
		Make:             g.recordedMake(rn.maker, cyr),
		Model:            rn.model.name,
		Calibre:          g.recordedCalibre(rn.cal),
		Type:             rn.model.typ,
		RecordingCountry: cc,
		Status:           status,
	}
	if r.IntN(100) < 8 {
		rec.Model = ""
	}
	if r.IntN(100) >= 8 {
		rec.CountryOfManufacture = rn.maker.mk.Country
	}
	if r.IntN(100) >= 5 {
		rec.EventDate = string(appendDate(g.buf[:0], day))
	}
	if r.IntN(10) == 0 {
		rec.OtherSerials = g.otherSerials(rn, serial)
	}
	if r.IntN(100) < 45 {
		rec.CaseReference = g.caseReference(cc, idYear)
	}
	if r.IntN(100) < 30 {
		rec.ReviewDate = string(appendDate(g.buf[:0], daysFromCivil(idYear+5, 1, 1)+day%365))
	}
	rec.Remarks = g.remarks(rn)
	return rec
}

// nextID numbers records per recording country and year, as NCBs do, with room for a million
// records per country and year before the number grows a digit.
func (g *Generator) nextID(country int, cc string, year int) string {
	g.counters[country][year-firstYear]++
	b := append(g.buf[:0], cc...)
	b = append(b, '-')
	b = appendInt(b, uint64(year), 4)
	b = append(b, '-')
	b = appendInt(b, uint64(g.counters[country][year-firstYear]), 6)
	return string(b)
}

// recordedMake writes the make as NCBs do: the canonical name mostly, an alias or a misspelling
// sometimes, Cyrillic where the recording country writes it.
func (g *Generator) recordedMake(mk *maker, cyr bool) string {
	r := g.r
	switch n := r.IntN(100); {
	case cyr && len(mk.cyrAl) > 0 && n < 40:
		return mk.cyrAl[r.IntN(len(mk.cyrAl))]
	case n < 75 || len(mk.latinAl) == 0:
		if n < 4 {
			return strings.ToUpper(mk.mk.Name)
		}
		return mk.mk.Name
	default:
		return mk.latinAl[r.IntN(len(mk.latinAl))]
	}
}

// recordedCalibre writes a calibre class as NCBs do: its usual name, one of its aliases, or
// "unknown" when the calibre was not established.
func (g *Generator) recordedCalibre(id string) string {
	names := g.w.calibres[id]
	switch n := g.r.IntN(100); {
	case n < 2:
		return "unknown"
	case n < 65 || len(names) == 1:
		return names[0]
	default:
		return names[1+g.r.IntN(len(names)-1)]
	}
}
