package eval

import (
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/matcher"
)

// Dataset is a synthetic record set and its matcher entries, index for index.
type Dataset struct {
	Records []record.Record
	Entries []matcher.Entry
}

// NewDataset generates n records with the synthetic generator's seed.
func NewDataset(n int, seed int64) *Dataset {
	g := synth.New(seed)
	d := &Dataset{
		Records: make([]record.Record, n),
		Entries: make([]matcher.Entry, n),
	}
	for i := range n {
		r := g.Next()
		d.Records[i] = r
		d.Entries[i] = EntryOf(&r)
	}
	return d
}

// EntryOf is what the node hands the matcher for a record.
func EntryOf(r *record.Record) matcher.Entry {
	return matcher.Entry{Key: r.ID, Serial: r.Serial, OtherSerials: r.OtherSerials,
		Make: r.Make, Model: r.Model, Calibre: r.Calibre, Type: r.Type}
}
