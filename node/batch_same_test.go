package node

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/synth"
	"github.com/fedarms/fedarms/node/wire"
)

// TestSearchBatchAnswersAsSearch screens a few thousand generated queries (recorded serials as
// read and misread, serials of firearms the register does not hold, with and without make and
// model, and bad lines among them) and asks each again as a single search: every line's results
// (ids, scores, verdicts, records, why, ties, order) must be the single search's.
func TestSearchBatchAnswersAsSearch(t *testing.T) {
	tn := startNode(t, t.TempDir(), func(c *config.Config) { c.Audit.Durability = "async" })
	var recs bytes.Buffer
	w := bufio.NewWriter(&recs)
	if err := synth.WriteJSONLines(w, 4000, 5); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	if r := tn.importLines(t, "admin", recs.String()); r.Accepted != 4000 {
		t.Fatalf("import: %+v", r)
	}
	held := synth.New(5)
	others := synth.New(99)
	rng := rand.New(rand.NewPCG(5, 99))
	const lines = 3000
	var body strings.Builder
	reqs := make([]map[string]any, lines)
	for i := range lines {
		var r record.Record
		switch k := rng.IntN(10); {
		case k < 4:
			r = held.Next()
		case k < 6:
			r = held.Next()
			r.Serial = misread(rng, r.Serial)
		default:
			r = others.Next()
		}
		req := map[string]any{"serial": r.Serial}
		if rng.IntN(3) > 0 {
			req["make"] = r.Make
		}
		if rng.IntN(2) == 0 {
			req["model"] = r.Model
		}
		if i%97 == 5 {
			body.WriteString(`{"serial": 12}` + "\n")
			continue
		}
		reqs[i] = req
		b, _ := json.Marshal(req)
		body.Write(b)
		body.WriteByte('\n')
	}
	a := tn.call(t, "admin", "POST", "/v1/search/batch", "application/x-ndjson", strings.NewReader(body.String()))
	if a.status != 200 {
		t.Fatalf("batch: %d %s", a.status, a.body)
	}
	got, done := readBatchAnswer(t, a.body)
	if len(got) != lines || done.Count != lines {
		t.Fatalf("%d answers, done %+v, for %d lines", len(got), done, lines)
	}
	raw := bytes.Split(bytes.TrimSuffix(a.body, []byte("\n")), []byte("\n"))
	withResults, negatives := 0, 0
	for i, g := range got {
		if g.Line != i+1 {
			t.Fatalf("answer %d is for line %d", i, g.Line)
		}
		if reqs[i] == nil {
			if g.Error == nil || g.Results != nil {
				t.Fatalf("line %d: want an error, got %+v", g.Line, g)
			}
			continue
		}
		var one wire.SearchResponse
		alone := tn.json(t, "admin", "POST", "/v1/search", reqs[i])
		alone.decode(t, &one)
		// The bytes too, but for the hits' notification ids: [] and null decode alike.
		var screenedRaw, aloneRaw struct {
			Results json.RawMessage `json:"results"`
		}
		if json.Unmarshal(raw[i], &screenedRaw) != nil || json.Unmarshal(alone.body, &aloneRaw) != nil {
			t.Fatalf("line %d: answers %s and %s", g.Line, raw[i], alone.body)
		}
		if s, o := notificationIDs.ReplaceAll(screenedRaw.Results, nil), notificationIDs.ReplaceAll(aloneRaw.Results, nil); !bytes.Equal(s, o) {
			t.Fatalf("line %d %v:\nscreened %s\n   alone %s", g.Line, reqs[i], s, o)
		}
		if g.Error != nil || len(g.Results) != len(one.Results) {
			t.Fatalf("line %d %v: %d results screened (%+v), %d alone", g.Line, reqs[i], len(g.Results), g.Error, len(one.Results))
		}
		for k := range one.Results {
			s, o := g.Results[k], one.Results[k]
			s.NotificationID, o.NotificationID = "", "" // each search notifies its own hit
			if !reflect.DeepEqual(s, o) {
				t.Fatalf("line %d %v result %d:\nscreened %+v\n   alone %+v", g.Line, reqs[i], k, s, o)
			}
		}
		if len(one.Results) > 0 {
			withResults++
			if !one.Results[0].Hit && !one.Results[0].Review {
				negatives++
			}
		}
	}
	// The comparison means something only if the lines gave every kind of answer.
	if withResults < lines/3 || negatives == 0 || done.Hits == 0 {
		t.Fatalf("%d lines with results, %d with only context, %d hits: the queries miss their shapes", withResults, negatives, done.Hits)
	}
}

// notificationIDs are the values of the notification ids in an answer (each search notifies its
// own hit).
var notificationIDs = regexp.MustCompile(`"notification_id":"[^"]*"`)

// misread replaces one character of serial by another of its kind.
func misread(rng *rand.Rand, serial string) string {
	b := []byte(serial)
	for range 8 {
		i := rng.IntN(len(b))
		switch c := b[i]; {
		case c >= '0' && c <= '9':
			b[i] = byte('0' + (int(c-'0')+1+rng.IntN(9))%10)
			return string(b)
		case c >= 'A' && c <= 'Z':
			b[i] = byte('A' + (int(c-'A')+1+rng.IntN(25))%26)
			return string(b)
		}
	}
	return fmt.Sprintf("%s%d", serial, rng.IntN(10))
}
