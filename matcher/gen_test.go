package matcher

import (
	"fmt"
	"math/rand/v2"
	"strings"
)

// testSerials generates n serials shaped like real ones (letter prefixes, digit runs, embedded
// letters) in sequential factory runs, so that near neighbours are everywhere, as they are in the
// real data. It stands in for the synthetic data generator in the package's own benchmarks.
func testSerials(n int, seed uint64) []string {
	r := rand.New(rand.NewPCG(seed, 1))
	formats := []string{"LLdddddd", "dddddd", "LLLddd", "dddLdddd", "Ldddddd", "dddddddd",
		"LLddddL", "ddLLdddd", "dddddLL", "LdddddL", "ddddddd", "LLLdddddd"}
	out := make([]string, 0, n)
	for len(out) < n {
		f := formats[r.IntN(len(formats))]
		run := 1 + int(r.ExpFloat64()*30)
		prefix := make([]byte, len(f))
		for i := range f {
			if f[i] == 'L' {
				prefix[i] = byte('A' + r.IntN(26))
			}
		}
		digits := strings.Count(f, "d")
		start := r.Int64N(pow10(digits))
		for j := 0; j < run && len(out) < n; j++ {
			num := fmt.Sprintf("%0*d", digits, (start+int64(j)*int64(1+r.IntN(2)))%pow10(digits))
			b := make([]byte, len(f))
			for i, k := 0, 0; i < len(f); i++ {
				if f[i] == 'L' {
					b[i] = prefix[i]
				} else {
					b[i] = num[k]
					k++
				}
			}
			out = append(out, string(b))
		}
	}
	return out
}

func pow10(n int) int64 {
	p := int64(1)
	for range n {
		p *= 10
	}
	return p
}

// corrupt applies k random edits (substitution, insertion, deletion, transposition) to s.
func corrupt(r *rand.Rand, s string, k int) string {
	b := []byte(s)
	const alpha = "0123456789ABCDEFGHJKMNPRTUVWXY"
	for range k {
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] = alpha[r.IntN(len(alpha))]
		case 1:
			b = append(b[:i], append([]byte{alpha[r.IntN(len(alpha))]}, b[i:]...)...)
		case 2:
			if len(b) > 1 {
				b = append(b[:i], b[i+1:]...)
			}
		case 3:
			if i+1 < len(b) {
				b[i], b[i+1] = b[i+1], b[i]
			}
		}
	}
	return string(b)
}

// keyedEntries returns an entry keyed K%05d for every serial.
func keyedEntries(serials []string) []Entry {
	entries := make([]Entry, len(serials))
	for i, s := range serials {
		entries[i] = Entry{Key: fmt.Sprintf("K%05d", i), Serial: s}
	}
	return entries
}

// bulkAndLive builds two indexes of entries: one by PutMany (runs), one by Put (the buffer and
// merges).
func bulkAndLive(ref Reference, entries []Entry) (bulk, live *Index) {
	bulk = New(ref, Options{})
	bulk.PutMany(entries)
	live = New(ref, Options{})
	for _, e := range entries {
		live.Put(e)
	}
	return bulk, live
}
