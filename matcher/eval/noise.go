package eval

import (
	"strings"
	"unicode"

	"github.com/fedarms/fedarms/matcher"
)

// minNoiseForm is the shortest skeleton a serial without a token is compared at: the matcher does
// not look shorter ones up (four significant characters say too little).
const minNoiseForm = 4

// noiseForms are the skeletons of a serial with its first or its last token left out, where a
// token is a run of letters or of digits in the normal form, or a part between separators as
// typed ("IMP 550931", "550931-US"). It is the eval's own reading of prefix/suffix noise, written
// apart from the matcher's, so that a clear negative can be kept clear of it.
func noiseForms(serial string) []string {
	var out []string
	add := func(s string) {
		if k := matcher.Skeleton(s); len(k) >= minNoiseForm {
			out = append(out, k)
		}
	}
	n := matcher.NormalizeSerial(serial)
	if len(n) > 1 {
		i := 1
		for i < len(n) && isDigit(n[i]) == isDigit(n[0]) {
			i++
		}
		add(n[i:])
		j := len(n) - 1
		for j > 0 && isDigit(n[j-1]) == isDigit(n[len(n)-1]) {
			j--
		}
		add(n[:j])
	}
	parts := strings.FieldsFunc(serial, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	if len(parts) > 1 {
		add(strings.Join(parts[1:], ""))
		add(strings.Join(parts[:len(parts)-1], ""))
	}
	return out
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// noisyRecorded is the set of noise forms of every recorded serial, built on first use (only clear
// negatives need it).
func (g *Generator) noisyRecorded() map[string]bool {
	if g.noisy == nil {
		g.noisy = make(map[string]bool, 2*len(g.d.Records))
		for i := range g.d.Records {
			rec := &g.d.Records[i]
			for _, s := range append([]string{rec.Serial}, rec.OtherSerials...) {
				for _, f := range noiseForms(s) {
					g.noisy[f] = true
				}
			}
		}
	}
	return g.noisy
}

// nearRecorded reports whether a serial equals a recorded one give or take a prefix or suffix token
// on either side: the matcher matches those on purpose (class "token"), so such a serial is no
// clear negative.
func (g *Generator) nearRecorded(serial string) bool {
	if g.noisyRecorded()[matcher.Skeleton(serial)] {
		return true
	}
	for _, f := range noiseForms(serial) {
		if _, ok := g.skels[f]; ok {
			return true
		}
	}
	return false
}
