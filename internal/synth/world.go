package synth

import (
	"fmt"
	"hash/fnv"
	"sync"
	"unicode"

	"github.com/fedarms/fedarms/internal/reference"
)

// maker is a make of the reference table joined with its profile, ready to draw from.
type maker struct {
	mk      reference.Make
	region  string
	models  []model
	modelP  picker
	serials []string
	latinAl []string // aliases officers anywhere write
	cyrAl   []string // Cyrillic aliases, written by Cyrillic-writing NCBs
}

// calibreNames holds, per calibre class id, the canonical name first and then its aliases.
type calibreNames map[string][]string

// world is everything the generator draws from that does not depend on the seed. It is built
// once from the reference tables and the profiles, in table order, so that draws do not depend
// on map iteration.
type world struct {
	makers     []maker
	makerP     picker
	countries  []string
	countryP   picker
	regionIdx  [][]int  // per region: indexes into countries
	regionP    []picker // per region: picker over regionIdx
	regionOf   map[string]int
	calibres   calibreNames
	genericCal map[string]picker
}

var (
	worldOnce sync.Once
	theWorld  *world
	worldErr  error
)

func loadWorld() (*world, error) {
	worldOnce.Do(func() { theWorld, worldErr = buildWorld() })
	return theWorld, worldErr
}

func buildWorld() (*world, error) {
	w := &world{calibres: calibreNames{}, genericCal: map[string]picker{}, regionOf: map[string]int{}}
	for _, c := range reference.Calibres() {
		w.calibres[c.ID] = append([]string{c.Name}, c.Aliases...)
	}
	profiles := map[string]profile{}
	for _, p := range append(append([]profile{}, majorProfiles...), moreProfiles...) {
		if _, ok := reference.MakeByID(p.id); !ok {
			return nil, fmt.Errorf("synth profile: make %q not in reference table", p.id)
		}
		profiles[p.id] = p
	}
	var makerW []float64
	for _, mk := range reference.Makes() {
		mr := maker{mk: mk}
		c, _ := reference.Country(mk.Country)
		mr.region = c.Region
		for _, a := range mk.Aliases {
			if isCyrillic(a) {
				mr.cyrAl = append(mr.cyrAl, a)
			} else {
				mr.latinAl = append(mr.latinAl, a)
			}
		}
		p, ok := profiles[mk.ID]
		weight := p.w
		if ok {
			mr.models, mr.serials = p.models, p.serials
		} else {
			weight = minorWeight
			kinds := minorKinds[mk.ID]
			if kinds == nil {
				kinds = []string{pst, rfl}
			}
			for _, t := range kinds {
				for _, name := range genericModels[t] {
					mr.models = append(mr.models, model{name: name, typ: t, w: 1})
				}
			}
			// A stable choice per maker, so one maker's serials look alike across runs and seeds.
			h := fnv.New32a()
			h.Write([]byte(mk.ID))
			mr.serials = []string{minorSerials[h.Sum32()%uint32(len(minorSerials))]}
		}
		ws := make([]float64, len(mr.models))
		for i, md := range mr.models {
			if md.cal != "" && w.calibres[md.cal] == nil {
				return nil, fmt.Errorf("synth profile %s model %s: calibre %q not in reference table", mk.ID, md.name, md.cal)
			}
			ws[i] = md.w
		}
		mr.modelP = newPicker(ws)
		w.makers = append(w.makers, mr)
		makerW = append(makerW, weight)
	}
	w.makerP = newPicker(makerW)

	regions := reference.Regions()
	for i, r := range regions {
		w.regionOf[r] = i
	}
	w.regionIdx = make([][]int, len(regions))
	regionW := make([][]float64, len(regions))
	var cw []float64
	for i, rc := range recordingWeights {
		c, ok := reference.Country(rc.id)
		if !ok {
			return nil, fmt.Errorf("synth: recording country %q not in reference table", rc.id)
		}
		w.countries = append(w.countries, rc.id)
		cw = append(cw, rc.w)
		ri := w.regionOf[c.Region]
		w.regionIdx[ri] = append(w.regionIdx[ri], i)
		regionW[ri] = append(regionW[ri], rc.w)
	}
	w.countryP = newPicker(cw)
	for i := range regions {
		w.regionP = append(w.regionP, newPicker(regionW[i]))
	}
	for t, cals := range genericCalibres {
		ws := make([]float64, len(cals))
		for i, c := range cals {
			if w.calibres[c.id] == nil {
				return nil, fmt.Errorf("synth generic calibre %q not in reference table", c.id)
			}
			ws[i] = c.w
		}
		w.genericCal[t] = newPicker(ws)
	}
	return w, nil
}

func isCyrillic(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Cyrillic, r) {
			return true
		}
	}
	return false
}
