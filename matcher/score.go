package matcher

import (
	"math"
	"strconv"
	"strings"
)

// matchKind says how a serial was matched, from strongest to weakest evidence.
type matchKind uint8

const (
	kindExact      matchKind = iota // equal after normalisation
	kindConfusable                  // equal skeletons: only O/0, I/1, S/5, ... differ
	kindEmbedded                    // equal once letters between digits are ignored
	kindWildcard                    // '?' or '*' in the query, otherwise exact on the skeleton
	kindNoise                       // equal once a prefix or suffix token is added or dropped
	kindFuzzy                       // within the edit budget
)

// serialMatch is the verified relation between the query serial and one indexed serial.
type serialMatch struct {
	id         uint32 // serial id
	kind       matchKind
	known      int // query characters that were read (not '?' or '*') and matched
	confusions int // confusable substitutions
	edits      int // other edits (substitution, insertion, deletion, adjacent transposition)
	slips      int // ... of which invent no character (adjacent transposition, deletion)
	unread     int // '?' characters
	stars      int // '*' runs
	noise      int // prefix or suffix tokens added or dropped
	glued      int // characters glued to an end of the serial in the query (markTier)
	pair       string
}

// Weights of the record-linkage score, in bits of evidence (log2 likelihood ratios, rounded to
// values the evaluation suite was tuned with; see DESIGN.md).
const (
	bitsPerChar      = 1.5  // a read character of a serial, up to bitsSerialMax
	bitsSerialMax    = 9.0  // a long serial: more characters add no more (runs, reuse)
	costConfusion    = 0.7  // a confusable pair costs little: the mistake is the common one
	costEdit         = 3.0  // a plain edit costs much: neighbours in a factory run differ by one
	costSlip         = 2.5  // ... less when it invents no character (see below)
	costUnread       = 0.3  // an unreadable character costs its information plus a little
	costStar         = 0.5  // a run of unreadable characters
	costEmbedded     = 1.0  // letters between digits ignored
	costNoise        = 1.5  // a prefix or suffix token added or dropped
	costGlued        = 1.5  // a mark glued to the serial: as a token...
	costGluedChar    = 0.25 // ... and a little for each of its characters
	costOtherSerial  = 0.3  // matched a slide, barrel or import number rather than the frame's
	bitsMakeAgree    = 2.5  // same canonical make
	costMakeDiffer   = 5.0  // a different known make: the same serial is reused across makers
	costMakeUnsure   = 1.5  // different, but one side is a spelling the tables do not know
	bitsCalibreAgree = 1.5  // same calibre class
	bitsCalibreClose = 0.5  // related calibres (5.56x45 and .223 Rem)
	costCalibre      = 2.5  // unrelated calibres
	bitsTypeAgree    = 0.5  // type words are coarse, so agreement says little
	costTypeDiffer   = 2.0  // a rifle is not a pistol
	bitsModelAgree   = 1.0  // model written the same
	bitsModelSimilar = 0.5  // one model spelling contains the other
	costModelDiffer  = 0.5  // models are written many ways, so disagreement says little
	minLongSerial    = 6    // a serial with fewer read characters is short: it needs agreement
	hitMargin        = 1.0  // bits a non-exact HIT must lead the next candidate by
	scoreSlope       = 0.38 // maps bits to [0,1]: 5 bits is 0.85 (HIT), 1.5 bits is 0.60
	scoreMid         = 0.43
)

// serialBits is the serial's share of the evidence. sharing is how many indexed serials have the
// matched normal form: a serial that several records carry proves less (term frequency).
//
// A slip (two characters read in the wrong order, or one not read) costs less than an edit that
// invents a character (replaced, or added): to turn a record into the query, a substitution must
// also pick the one character, of the ten digits or the letters, that the query shows, which a
// slip need not. So of two records one edit from the query, the one a slip explains is likelier;
// they used to tie, and the record key decided (most of transpose's gap to its ceiling at 1.4M).
func (m *serialMatch) serialBits(sharing int) float64 {
	b := min(bitsPerChar*float64(m.known-1), bitsSerialMax)
	b -= costConfusion*float64(m.confusions) + costEdit*float64(m.edits-m.slips) + costSlip*float64(m.slips) +
		costUnread*float64(m.unread) + costStar*float64(m.stars) + costNoise*float64(m.noise)
	if m.glued > 0 {
		b -= costGlued + costGluedChar*float64(m.glued)
	}
	if m.kind == kindEmbedded {
		b -= costEmbedded
	}
	if sharing > 1 {
		b -= math.Log2(float64(sharing))
	}
	return b
}

// describe is the serial's "why": what had to be forgiven for it to match.
func (m *serialMatch) describe(other bool) string {
	var buf [6]string
	parts := buf[:0]
	switch {
	case m.kind == kindExact:
		parts = append(parts, "exact")
	case m.kind == kindEmbedded:
		parts = append(parts, "embedded letters ignored")
	}
	if m.confusions > 0 {
		parts = append(parts, strconv.Itoa(m.confusions)+" confusable ("+m.pair+")")
	}
	if m.edits > 0 {
		parts = append(parts, plural(m.edits, "edit"))
	}
	if m.unread > 0 {
		parts = append(parts, plural(m.unread, "unreadable character"))
	}
	if m.stars > 0 {
		parts = append(parts, "unreadable run")
	}
	if m.noise > 0 {
		parts = append(parts, plural(m.noise, "prefix/suffix token")+" ignored")
	}
	if m.glued > 0 {
		parts = append(parts, plural(m.glued, "character")+" glued to the serial ignored")
	}
	s := strings.Join(parts, ", ")
	if other {
		s += " on other serial"
	}
	return s
}

// plural is "1 edit", "2 edits". Without fmt: every result of a screening says it (a sixth of the
// time a screened line spent building its results).
func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// scoreOf maps bits of evidence to [0,1].
func scoreOf(bits float64) float64 {
	return 1 / (1 + math.Exp(-scoreSlope*(bits-scoreMid)))
}
