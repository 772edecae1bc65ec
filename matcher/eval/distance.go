package eval

// maxLen bounds the serials the distance functions compare; longer ones are cut.
const maxLen = 64

// Distance is the optimal-string-alignment distance between a recorded serial a and a query q, in
// which '?' matches any one character and '*' any run (both free). It is the reference the
// ceiling and the linear-scan baseline use, independent of the matcher's own code.
func Distance(a, q string) int {
	return distanceWithin(a, q, 1<<20)
}

// distanceWithin is Distance, or bound+1 as soon as the distance must exceed bound.
func distanceWithin(a, q string, bound int) int {
	if len(a) > maxLen {
		a = a[:maxLen]
	}
	if len(q) > maxLen {
		q = q[:maxLen]
	}
	var rows [3][maxLen + 1]int32
	pp, p, c := &rows[0], &rows[1], &rows[2]
	m := len(q)
	for i := 1; i <= m; i++ {
		p[i] = p[i-1] + 1
		if q[i-1] == '*' {
			p[i] = p[i-1]
		}
	}
	for j := 1; j <= len(a); j++ {
		c[0] = int32(j)
		best := c[0]
		for i := 1; i <= m; i++ {
			qc := q[i-1]
			var v int32
			if qc == '*' {
				v = min(c[i-1], p[i])
			} else {
				cost := int32(1)
				if qc == a[j-1] || qc == '?' {
					cost = 0
				}
				v = min(p[i-1]+cost, p[i]+1, c[i-1]+1)
				if i > 1 && j > 1 && a[j-1] == q[i-2] && a[j-2] == qc && qc != a[j-1] {
					v = min(v, pp[i-2]+1)
				}
			}
			c[i] = v
			best = min(best, v)
		}
		if int(best) > bound {
			return bound + 1
		}
		pp, p, c = p, c, pp
	}
	return min(int(p[m]), bound+1)
}

// lengthOK is a cheap necessary condition for Distance(a, q) <= bound.
func lengthOK(a, q, stars, bound int) bool {
	known := q - stars
	if stars > 0 {
		return a >= known-bound
	}
	d := a - q
	return d <= bound && -d <= bound
}
