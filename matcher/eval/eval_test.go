package eval

import (
	"bytes"
	"testing"
)

// TestSmallEvaluation runs the evaluation suite's fast mode (20,000 records) and holds the
// matcher to the quality targets, with slack for the small sample; the full-size run is
// scripts/bench-matcher.sh.
func TestSmallEvaluation(t *testing.T) {
	records, perClass := 20000, 60
	if testing.Short() {
		records, perClass = 5000, 30
	}
	rep := Run(Config{Records: records, Seed: 7, PerClass: perClass, BaselinePerClass: 2})
	var out bytes.Buffer
	rep.Print(&out, true)
	t.Log("\n" + out.String())
	for _, c := range rep.Classes {
		if c.N < perClass*9/10 {
			t.Errorf("%s: only %d of %d queries generated", c.Class, c.N, perClass)
		}
		if IsNegative(c.Class) {
			limit := map[string]float64{"neg-clear": 0, "neg-next": 0.05, "neg-make": 0.05}[c.Class]
			if c.WrongHit > limit {
				t.Errorf("%s: false HIT rate %.3f, want at most %.3f", c.Class, c.WrongHit, limit)
			}
			continue
		}
		slack := 0.05
		if c.Class == "tail" {
			// A known gap: a serial of one letter or digit run cut at a separator as recorded
			// ("011-09046" read as "09046") is not indexed by its parts.
			slack = 0.10
		}
		if c.Recall10 < c.Ceil10-slack {
			t.Errorf("%s: recall@10 %.3f, ceiling %.3f", c.Class, c.Recall10, c.Ceil10)
		}
		switch c.Class {
		case "exact", "format", "alias", "confusable":
			if c.Hit < 0.95 {
				t.Errorf("%s: HIT on the truth %.3f, want at least 0.95", c.Class, c.Hit)
			}
		case "unread1":
			// A '?' query whose truth stands alone must be a HIT; one whose truth ties with other
			// records must not (the wrong-HIT check below), so the HIT rate sits at hitmax.
			if c.Hit < c.HitMax-0.05 {
				t.Errorf("%s: HIT on the truth %.3f, want about the %.3f of queries whose truth no other record ties with", c.Class, c.Hit, c.HitMax)
			}
		}
		if c.WrongHit > 0.1 {
			t.Errorf("%s: a wrong record was a HIT in %.3f of queries", c.Class, c.WrongHit)
		}
	}
	first, flagged := 0, 0
	for _, c := range rep.Classes {
		first += c.First
		flagged += c.FirstFlagged
		if c.Class == "neg-clear" && c.Review > 0.10 {
			t.Errorf("neg-clear: a REVIEW on %.3f of clear negatives, want at most 0.10", c.Review)
		}
	}
	if f := float64(flagged) / float64(first); f < 0.95 {
		t.Errorf("positives whose truth ranks first: %.3f are REVIEW or HIT, want at least 0.95", f)
	}
	if rep.Recall1 < rep.Ceil1-0.03 {
		t.Errorf("recall@1 over positives %.3f, ceiling %.3f", rep.Recall1, rep.Ceil1)
	}
}
