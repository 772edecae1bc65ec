package synth

import (
	"strconv"
)

// otherSerials returns the other numbers found on a firearm: a replacement slide or frame from
// the same factory, a barrel stamped with the serial's last digits, or an importer's marking.
func (g *Generator) otherSerials(rn *run, serial string) []string {
	r := g.r
	n := 1 + r.IntN(5)/4 // mostly one, sometimes two
	out := make([]string, 0, n)
	for range n {
		switch k := r.IntN(10); {
		case k < 3 && rn.fixed == "":
			// A part from elsewhere in the same production.
			s := rn.serial
			s.next = r.Uint64N(s.max)
			out = append(out, s.serial(r))
		case k < 6 && len(serial) > 4 && !hasNonASCII(serial[len(serial)-3:]):
			out = append(out, serial[len(serial)-3:])
		default:
			out = append(out, importMarking(g))
		}
	}
	return out
}

// importers are prefixes of import markings as they appear on firearms.
var importers = []string{"CAI", "IMP", "I.A.B.", "IMPORTED-", "TR-IMP", "SAI", "IM-"}

func importMarking(g *Generator) string {
	b := append(g.buf[:0], importers[g.r.IntN(len(importers))]...)
	b = appendInt(b, uint64(g.r.IntN(1_000_000)), 6)
	return string(b)
}

// caseReference formats a national case number in one of the shapes NCBs use.
func (g *Generator) caseReference(cc string, year int) string {
	r := g.r
	b := g.buf[:0]
	switch r.IntN(4) {
	case 0:
		b = append(b, cc...)
		b = append(b, '/')
		b = appendInt(b, uint64(year), 4)
		b = append(b, '/')
		b = appendInt(b, uint64(r.IntN(100000)), 5)
	case 1:
		b = appendInt(b, uint64(year%100), 2)
		b = append(b, '-')
		b = appendInt(b, uint64(r.IntN(1000000)), 6)
	case 2:
		b = append(b, "NCB-"...)
		b = append(b, cc...)
		b = append(b, '-')
		b = strconv.AppendInt(b, int64(year), 10)
		b = append(b, '-')
		b = appendInt(b, uint64(r.IntN(10000)), 4)
	default:
		b = appendInt(b, uint64(r.IntN(100000000)), 8)
	}
	return string(b)
}

var commonRemarks = []string{
	"stolen during residential burglary",
	"stolen from vehicle",
	"lost in transit",
	"stolen from dealer stock",
	"seized at border crossing",
	"recovered in part; serial partially obliterated",
	"reported missing from police armoury",
	"part of a stolen consignment",
	"loss reported by licence holder",
	"found in container during customs inspection",
}

// remarks adds a free-text remark to a few records, and always to privately made or converted
// firearms, whose serial an officer has to explain.
func (g *Generator) remarks(rn *run) string {
	switch {
	case rn.maker.mk.ID == "polymer80":
		return "privately made firearm; serial assigned by recording agency"
	case rn.cal == "9pak" && rn.model.typ != "other" && g.r.IntN(2) == 0:
		return "converted blank-firing weapon"
	case g.r.IntN(100) < 6:
		return commonRemarks[g.r.IntN(len(commonRemarks))]
	}
	return ""
}
