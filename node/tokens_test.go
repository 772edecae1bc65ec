package node

import (
	"bufio"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/node/wire"
)

// TestOnBehalfOfOnlyForListedAgencies: before, on_behalf_of was any string, so the WCO's I2C
// searching "on behalf of DE-NCB" let DE-NCB see an FR hit (issue 17). Now a token names the
// agencies it may search for; any other is refused with 403, audited, and makes no hit.
func TestOnBehalfOfOnlyForListedAgencies(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(frRecord("FR-OBO-1", "OBO-55123")))
	search := func(who, agency string) answer {
		return tn.json(t, who, "POST", "/v1/search", map[string]any{"serial": "OBO-55123", "make": "Glock", "on_behalf_of": agency})
	}
	if a := search("wco", "KE-CUSTOMS"); a.status != 200 {
		t.Fatalf("I2C for a listed administration: %d %s", a.status, a.body)
	}
	for _, tc := range []struct{ who, agency string }{{"wco", "DE-NCB"}, {"wco", "ke-customs"}, {"de", "FR-NCB"}} {
		a := search(tc.who, tc.agency)
		var e struct{ Error wire.Error }
		a.decode(t, &e)
		if a.status != 403 || e.Error.Code != "on_behalf_of_not_allowed" || e.Error.Field != "on_behalf_of" {
			t.Errorf("%s for %s: %d %s, want 403 on_behalf_of_not_allowed", tc.who, tc.agency, a.status, a.body)
		}
	}
	if a := search("admin", "DE-NCB"); a.status != 200 {
		t.Fatalf("an admin for any agency: %d %s", a.status, a.body)
	}
	// DE-NCB sees no FR hit made "on its behalf" by someone not allowed to.
	var page wire.HitPage
	tn.json(t, "de", "GET", "/v1/hits", nil).decode(t, &page)
	for _, h := range page.Hits {
		if h.Agency == "WCO-I2C" {
			t.Errorf("DE-NCB sees the I2C's hit %s (on behalf of %q)", h.ID, h.OnBehalfOf)
		}
	}
	// The refusals are in the audit log.
	var tail struct {
		Entries []struct {
			Agency     string `json:"agency"`
			OnBehalfOf string `json:"on_behalf_of"`
			Outcome    string `json:"outcome"`
		} `json:"entries"`
	}
	tn.json(t, "ops", "GET", "/v1/audit?n=50", nil).decode(t, &tail)
	refused := 0
	for _, e := range tail.Entries {
		if strings.HasPrefix(e.Outcome, "refused") && e.OnBehalfOf != "" {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals audited, want 3: %+v", refused, tail.Entries)
	}
	// A screening line on behalf of an agency not listed is refused on its own line.
	a := tn.call(t, "wco", "POST", "/v1/search/batch", "application/x-ndjson",
		strings.NewReader(`{"serial":"OBO-55123","on_behalf_of":"DE-NCB"}`+"\n"+`{"serial":"OBO-55123","on_behalf_of":"KE-CUSTOMS"}`+"\n"))
	if a.status != 200 || !strings.Contains(string(a.body), "on_behalf_of_not_allowed") || strings.Count(string(a.body), "OBO-55123") == 0 {
		t.Errorf("screening: %d %s", a.status, a.body)
	}
}

// TestTokenTTLEndsRequestsAndStreams: a token made with a TTL works until then, is refused with
// "expired" after, shows its expiry and last use, and a hits stream opened with it ends.
func TestTokenTTLEndsRequestsAndStreams(t *testing.T) {
	fake := clock.NewFake(time.Now())
	tn := startNodeWithClock(t, t.TempDir(), fake)
	var made wire.NewToken
	a := tn.json(t, "admin", "POST", "/v1/tokens", map[string]any{"agency": "FR-WATCH", "country": "FR", "roles": []string{"searcher"}, "ttl": "2h"})
	a.decode(t, &made)
	if a.status/100 != 2 || made.Info.Expires == nil || !made.Info.Expires.Equal(fake.Now().UTC().Add(2*time.Hour)) {
		t.Fatalf("create with ttl: %d %s", a.status, a.body)
	}
	if a := tn.json(t, "admin", "POST", "/v1/tokens", map[string]any{"agency": "FR-WATCH", "roles": []string{"searcher"}, "ttl": "soon"}); a.status != 400 || !strings.Contains(string(a.body), `"field":"ttl"`) {
		t.Fatalf("a bad ttl: %d %s", a.status, a.body)
	}
	lines := openHitStream(t, tn, made.Token)
	var list struct {
		Tokens []struct {
			ID       string     `json:"id"`
			LastUsed *time.Time `json:"last_used"`
		} `json:"tokens"`
	}
	tn.json(t, "admin", "GET", "/v1/tokens", nil).decode(t, &list)
	shown := false
	for _, tok := range list.Tokens {
		if tok.ID == made.Info.ID && tok.LastUsed != nil {
			shown = true
		}
	}
	if !shown {
		t.Fatalf("the stream's token shows no last use: %+v", list)
	}
	fake.Advance(2 * time.Hour)
	got := readUntilStreamEnds(t, lines, fake)
	if s := strings.Join(got, "\n"); !strings.Contains(s, "event: end") || !strings.Contains(s, "expired") {
		t.Errorf("stream ended without saying why: %q", got)
	}
	req, _ := http.NewRequest("GET", tn.srv.URL+"/v1/hits", nil)
	req.Header.Set("Authorization", "Bearer "+made.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("an expired token: %d, want 401", resp.StatusCode)
	}
}

// openHitStream opens GET /v1/hits/stream with secret and returns its lines once the first one
// (the stream's comment) has come.
func openHitStream(t *testing.T, tn *testNode, secret string) <-chan string {
	t.Helper()
	req, _ := http.NewRequest("GET", tn.srv.URL+"/v1/hits/stream", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	stream, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stream.Body.Close() })
	lines := make(chan string, 100)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stream.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	if l := <-lines; !strings.HasPrefix(l, ": fedarms hits") {
		t.Fatalf("first line %q", l)
	}
	return lines
}

// readUntilStreamEnds reads the stream's lines until the node closes it, moving the node's clock a
// second every 50 ms of quiet; it fails after 10 s.
func readUntilStreamEnds(t *testing.T, lines <-chan string, fake *clock.Fake) []string {
	t.Helper()
	var got []string
	deadline := time.After(10 * time.Second)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				return got
			}
			got = append(got, l)
		case <-time.After(50 * time.Millisecond):
			fake.Advance(time.Second)
		case <-deadline:
			t.Fatalf("stream still open 10 s on; read %q", got)
		}
	}
}
