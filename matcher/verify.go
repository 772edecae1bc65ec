package matcher

// Costs of the detailed alignment: an edit outweighs any number of confusions, and a confusion
// any number of invented characters, so the alignment first minimises edits (the skeleton
// distance), then confusions, then the edits that had to invent a character (a substitution or an
// inserted character, against a transposition or a dropped character). Serials are at most
// maxSerialLen long, so neither count reaches the next field.
const (
	alignEdit      = 1 << 16
	alignConfusion = 1 << 8
	alignInvented  = 1
)

// alignment is what the detailed alignment of a record's normal form and the query found.
type alignment struct {
	edits, confusions int
	// slips are the edits that invent no character: adjacent transpositions and characters of the
	// record the query lacks. Reading makes them without having to see anything that is not there,
	// so they are likelier than a substitution or an inserted character (see costSlip).
	slips int
}

// align aligns the normal form r of a record's serial with the normalised query q (which may hold
// '?' for one unreadable character and '*' for a run) by a weighted optimal string alignment:
// confusable substitutions cost little, other edits much, wildcards nothing. Leading characters
// that read as zero are padding on either side and are skipped first.
func align(r, q []byte) alignment {
	r, q = trimZeroish(r), trimZeroish(q)
	n, m := len(r), len(q)
	var rows [3][maxSerialLen + 2]int32
	pp, p, c := &rows[0], &rows[1], &rows[2]
	p[0] = 0
	for i := 1; i <= m; i++ {
		p[i] = p[i-1] + alignEdit + alignInvented
		if q[i-1] == '*' {
			p[i] = p[i-1]
		}
	}
	for j := 1; j <= n; j++ {
		c[0] = int32(j) * alignEdit
		rc := r[j-1]
		for i := 1; i <= m; i++ {
			qc := q[i-1]
			if qc == '*' {
				c[i] = min(c[i-1], p[i])
				continue
			}
			var sub int32
			switch {
			case qc == rc || qc == '?':
			case confusable(qc, rc):
				sub = alignConfusion
			default:
				sub = alignEdit + alignInvented
			}
			// p[i] + alignEdit: the record's character is missing from the query (a slip);
			// c[i-1]: the query's character is not the record's (invented).
			v := min(p[i-1]+sub, p[i]+alignEdit, c[i-1]+alignEdit+alignInvented)
			if i > 1 && j > 1 {
				// A transposition as the skeleton sees it, plus any confusion inside it.
				a, b := r[j-2], q[i-2]
				if skeletonOf[rc] == skeletonOf[b] && skeletonOf[a] == skeletonOf[qc] &&
					skeletonOf[rc] != skeletonOf[qc] {
					v = min(v, pp[i-2]+alignEdit+confCost(rc, b)+confCost(a, qc))
				}
			}
			c[i] = v
		}
		pp, p, c = p, c, pp
	}
	d := p[m]
	edits := int(d / alignEdit)
	return alignment{edits: edits, confusions: int(d % alignEdit / alignConfusion),
		slips: edits - int(d%alignConfusion)}
}

// alignQuick is align for a query without '*' when the answer is the position-by-position
// alignment: equal lengths (after the leading zero-likes) and at most one position whose skeletons
// differ. Strings of equal length have no other alignment with at most one edit (an insertion
// needs a deletion; a transposition would show as two positions that differ), so nothing can have
// fewer edits, or as few with fewer confusions. Otherwise it runs align. Nearly every group an
// exact query verifies (its own and its factory-run neighbours) takes the quick path.
func alignQuick(r, q []byte) alignment {
	r2, q2 := trimZeroish(r), trimZeroish(q)
	if len(r2) != len(q2) {
		return align(r, q)
	}
	var a alignment
	for i, c := range q2 {
		rc := r2[i]
		switch {
		case c == rc || c == '?':
		case skeletonOf[c] == skeletonOf[rc]:
			a.confusions++
		case a.edits > 0:
			return align(r, q)
		default:
			a.edits++
		}
	}
	return a
}

// confCost is the alignment cost of reading a where b is marked, when their skeletons agree.
func confCost(a, b byte) int32 {
	if a == b {
		return 0
	}
	return alignConfusion
}

// trimZeroish drops leading characters whose skeleton is '0' (0, O, D, Q), keeping at least one.
func trimZeroish(s []byte) []byte {
	for len(s) > 1 && skeletonOf[s[0]] == '0' {
		s = s[1:]
	}
	return s
}

// firstConfusion names the first confusable pair between r and q in reading order, aligning them
// at the start and, failing that, at the end.
func firstConfusion(r, q []byte) string {
	r, q = trimZeroish(r), trimZeroish(q)
	for i := 0; i < min(len(r), len(q)); i++ {
		if confusable(r[i], q[i]) {
			return confusionPair(r[i], q[i])
		}
	}
	for i := 1; i <= min(len(r), len(q)); i++ {
		if a, b := r[len(r)-i], q[len(q)-i]; confusable(a, b) {
			return confusionPair(a, b)
		}
	}
	return ""
}

// confusionPair names a confusable pair letter first, as officers say it: "O/0", "S/5".
func confusionPair(x, y byte) string {
	if isDigit(x) && !isDigit(y) {
		x, y = y, x
	}
	return string([]byte{x, '/', y})
}
