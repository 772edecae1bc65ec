package config

import (
	"strconv"
	"strings"
	"time"
)

// Retention sets what happens to records past their review date. The grace period is the
// federation's: every node of a federation must set the same value, since each node decides on its
// own clock and with its own setting whether a record it returns may still be a HIT (a node with a
// shorter grace withholds the HIT from records another would still report).
type Retention struct {
	// Grace is how long after a record's review date it still makes HITs; after that a search
	// still returns it, but not as a HIT, until the owner renews or deletes it. Written "90d" or as
	// a Go duration ("2160h"); 0 turns the withholding off (records past their date are still
	// listed for their owner).
	Grace Duration `toml:"grace"`
}

// maxGrace bounds the grace period: beyond a few decades it is a typo, not a policy.
const maxGrace = 100 * 365 * 24 * time.Hour

func (r Retention) validate(bad func(field, value, format string, args ...any)) {
	if r.Grace.Duration < 0 || r.Grace.Duration > maxGrace {
		bad("retention.grace", r.Grace.String(), "must be between 0 (off) and 36500d")
	}
}

// parseDays reads a whole number of days written "90d" (time.ParseDuration stops at hours).
func parseDays(s string) (time.Duration, bool) {
	v, ok := strings.CutSuffix(s, "d")
	if !ok {
		return 0, false
	}
	days, err := strconv.Atoi(v)
	if err != nil || days < 0 || days > int(maxGrace/(24*time.Hour)) {
		return 0, false
	}
	return time.Duration(days) * 24 * time.Hour, true
}
