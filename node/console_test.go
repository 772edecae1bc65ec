package node

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/reference"
	"github.com/fedarms/fedarms/node/httpapi"
	"github.com/fedarms/fedarms/node/wire"
)

// consoleGet fetches a console path from a bare console handler (no node needed).
func consoleGet(t *testing.T, srv *httptest.Server, path string, header ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest("GET", srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func consoleServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle("GET /console/", consoleHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestConsoleServesAssetsAndRoutes(t *testing.T) {
	srv := consoleServer(t)
	index, _ := fs.ReadFile(consoleFiles, "console/index.html")
	for _, tc := range []struct {
		path, status, ctype, contains string
	}{
		{"/console/", "200", "text/html; charset=utf-8", `<script type="module" src="/console/js/app.js">`},
		{"/console/index.html", "200", "text/html; charset=utf-8", "fedarms console"},
		{"/console/app.css", "200", "text/css; charset=utf-8", ":root"},
		{"/console/js/app.js", "200", "text/javascript; charset=utf-8", "export function navigate"},
		{"/console/js/views/federation.js", "200", "text/javascript; charset=utf-8", "export function mount"},
		{"/console/icon.svg", "200", "image/svg+xml", "<svg"},
		{"/console/countries.json", "200", "application/json", `"FR":["France","europe"]`},
		// Client-side routes get the page itself, so a reload or a bookmark works.
		{"/console/federation", "200", "text/html; charset=utf-8", string(index)},
		{"/console/shards", "200", "text/html; charset=utf-8", string(index)},
		{"/console/no-such-view", "200", "text/html; charset=utf-8", string(index)},
		// A missing asset is a 404, never the page served as a script.
		{"/console/js/missing.js", "404", "text/plain; charset=utf-8", "no such console file"},
		{"/console/app.min.css", "404", "text/plain; charset=utf-8", "no such console file"},
		{"/console/DESIGN.md", "404", "text/plain; charset=utf-8", "no such console file"},
	} {
		t.Run(tc.path, func(t *testing.T) {
			resp, body := consoleGet(t, srv, tc.path)
			if got := resp.Status[:3]; got != tc.status {
				t.Fatalf("status %s, want %s", resp.Status, tc.status)
			}
			if got := resp.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			if !strings.Contains(body, tc.contains) {
				t.Errorf("body does not contain %q", tc.contains)
			}
			if csp := resp.Header.Get("Content-Security-Policy"); csp != consoleCSP {
				t.Errorf("CSP %q", csp)
			}
			if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
				t.Error("missing nosniff")
			}
		})
	}
}

func TestConsoleCSPForbidsInlineAndForeignCode(t *testing.T) {
	directives := map[string]string{}
	for _, d := range strings.Split(consoleCSP, ";") {
		f := strings.Fields(d)
		if len(f) > 0 {
			directives[f[0]] = strings.Join(f[1:], " ")
		}
	}
	for name, want := range map[string]string{
		"default-src": "'none'", "script-src": "'self'", "style-src": "'self'", "connect-src": "'self'",
		"frame-ancestors": "'none'", "base-uri": "'none'",
	} {
		if directives[name] != want {
			t.Errorf("%s is %q, want %q", name, directives[name], want)
		}
	}
	if strings.Contains(consoleCSP, "unsafe") {
		t.Errorf("CSP allows unsafe sources: %s", consoleCSP)
	}
}

func TestConsoleRevalidatesByETag(t *testing.T) {
	srv := consoleServer(t)
	resp, _ := consoleGet(t, srv, "/console/js/app.js")
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	again, body := consoleGet(t, srv, "/console/js/app.js", "If-None-Match", etag)
	if again.StatusCode != http.StatusNotModified || body != "" {
		t.Fatalf("revalidation: %s with %d bytes", again.Status, len(body))
	}
	other, _ := consoleGet(t, srv, "/console/app.css")
	if other.Header.Get("ETag") == etag {
		t.Error("two assets share an ETag")
	}
}

// The console must work on a node with no route to the internet: nothing it ships may load
// anything from another origin.
func TestConsoleAssetsAreSelfContained(t *testing.T) {
	external := regexp.MustCompile(`(?i)https?://|//cdn|@import|url\(\s*['"]?//`)
	// The SVG namespace is an identifier, not something fetched.
	allowed := strings.NewReplacer(`xmlns="http://www.w3.org/2000/svg"`, "")
	n := 0
	for name, a := range loadConsoleAssets() {
		n++
		if m := external.FindString(allowed.Replace(string(a.body))); m != "" {
			t.Errorf("%s refers outside the node: %q", name, m)
		}
	}
	if n < 10 {
		t.Fatalf("only %d assets embedded", n)
	}
}

// Every module the console imports, and every asset the page links, is embedded: a missing file
// would only show in a browser otherwise.
func TestConsoleReferencesResolve(t *testing.T) {
	assets := loadConsoleAssets()
	ref := regexp.MustCompile(`(?:from\s+|import\(\s*)'(\.{1,2}/[^']+)'|(?:href|src)="/console/([^"]+)"`)
	checked := 0
	for name, a := range assets {
		for _, m := range ref.FindAllStringSubmatch(string(a.body), -1) {
			target := m[2]
			if m[1] != "" {
				target = resolve(name, m[1])
			}
			if path.Ext(target) == "" {
				continue // a client-side route, not a file
			}
			checked++
			if _, ok := assets[target]; !ok {
				t.Errorf("%s refers to %s, which is not embedded", name, target)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d references found: the pattern no longer matches the code", checked)
	}
}

func resolve(from, rel string) string {
	dir := from[:strings.LastIndex(from, "/")+1]
	parts := strings.Split(dir+rel, "/")
	var out []string
	for _, p := range parts {
		switch p {
		case ".", "":
		case "..":
			out = out[:len(out)-1]
		default:
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

func TestConsoleCountriesCoverTheRegions(t *testing.T) {
	var m map[string][2]string
	if err := json.Unmarshal(loadConsoleAssets()["countries.json"].body, &m); err != nil {
		t.Fatal(err)
	}
	for code, want := range map[string]string{"FR": "europe", "KE": "africa", "BR": "americas", "JP": "asia_south_pacific", "AE": "mena"} {
		if m[code][1] != want {
			t.Errorf("%s in region %q, want %q", code, m[code][1], want)
		}
	}
}

// On a real node the console is mounted under /console/ and the root redirects to it.
func TestNodeServesConsole(t *testing.T) {
	tn := startNode(t, t.TempDir())
	a := tn.call(t, "", "GET", "/console/hits", "", nil)
	if a.status != 200 || !strings.Contains(string(a.body), "fedarms console") || a.header.Get("Content-Security-Policy") == "" {
		t.Fatalf("GET /console/hits: %d %q", a.status, a.header)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(tn.srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
		t.Fatalf("GET /: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
}

// fakeFederation answers the console's API calls for n simulated members whose states move on
// every poll, so the console can be measured at a size no in-process federation reaches. It is
// built from the API's own types, so it cannot drift from their JSON.
type fakeFederation struct {
	n      int
	noHits bool         // answer as a node version without the hit list
	down   atomic.Bool  // answer 503 to every API call, as a node that cannot serve
	polls  atomic.Int64 // member list requests served
}

var fakeCountries = []string{"FR", "DE", "IT", "ES", "PL", "GB", "NL", "KE", "NG", "ZA", "SN", "BR", "US",
	"MX", "AR", "CO", "JP", "IN", "AU", "ID", "TH", "AE", "SA", "JO", "EG", "MA"}

func (f *fakeFederation) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /console/", consoleHandler())
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, 200, wire.Health{Status: "ok", Node: "lyon-1", Role: "central", Version: Version})
	})
	api := http.NewServeMux()
	api.HandleFunc("GET /v1/cluster/members", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, 200, map[string]any{"members": f.members(f.polls.Add(1))})
	})
	api.HandleFunc("GET /v1/shards", func(w http.ResponseWriter, _ *http.Request) {
		var out []wire.ShardStatus
		for _, s := range reference.Regions() {
			out = append(out, wire.ShardStatus{Shard: s, Role: "voter", Leader: "lyon-1", AppliedIndex: uint64(1000 + f.polls.Load()*3),
				Records: 280000, Digest: "9f2c4e7a1b3d5f60", LastContact: time.Now().UTC()})
		}
		httpapi.WriteJSON(w, 200, map[string]any{"shards": out, "stale_after_seconds": 600})
	})
	api.HandleFunc("GET /v1/review", func(w http.ResponseWriter, _ *http.Request) {
		httpapi.WriteJSON(w, 200, wire.ReviewPage{AsOf: time.Now().UTC(), GraceSeconds: 90 * 86400, Shards: reference.Regions(), Complete: true,
			Counts: []wire.ReviewCount{{Country: "DE", Due: 12, Expired: 3}, {Country: "FR", Due: 40, Expired: 0}}, Records: []wire.ReviewRecord{}})
	})
	if !f.noHits {
		api.HandleFunc("GET /v1/hits", func(w http.ResponseWriter, _ *http.Request) {
			httpapi.WriteJSON(w, 200, map[string]any{"hits": []any{}})
		})
		api.HandleFunc("GET /v1/hits/stream", f.hitStream)
	}
	api.HandleFunc("/v1/", func(w http.ResponseWriter, r *http.Request) {
		httpapi.WriteError(w, wire.Errorf(wire.NotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	mux.Handle("/v1/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer "):
			httpapi.WriteError(w, wire.Errorf(wire.Unauthenticated, "unauthenticated", "missing Authorization: Bearer TOKEN header"))
		case f.down.Load():
			httpapi.WriteError(w, (&wire.Error{Kind: wire.Unavailable, Code: "unavailable", Message: "node is shutting down"}).Retry(5))
		default:
			api.ServeHTTP(w, r)
		}
	}))
	return mux
}

// hitStream sends a keep-alive every second and a new hit every ten, like a busy node's stream.
func (f *fakeFederation) hitStream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	fl := w.(http.Flusher)
	fmt.Fprint(w, ": fake hits\n\n")
	fl.Flush()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 1; ; i++ {
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
		if i%10 != 0 {
			fmt.Fprint(w, ": keep-alive\n\n")
		} else {
			now := time.Now().UTC()
			b, _ := json.Marshal(map[string]any{"id": fmt.Sprintf("h-fake-%d-%d", now.UnixNano(), i), "record_id": "FR-000001",
				"recording_country": "FR", "origin": "edge-fr-001", "agency": "FR-DOUANE", "searched_at": now,
				"score": 0.97, "decision": "pending", "deadline": now.Add(time.Hour), "receipts": map[string]string{"gs": "", "ncb": "", "origin": now.Format(time.RFC3339)}})
			fmt.Fprintf(w, "event: hit\ndata: %s\n\n", b)
		}
		fl.Flush()
	}
}

// members describes the federation at the given poll: a few members dead or suspect, moving
// every ten polls, and lag that changes on each.
func (f *fakeFederation) members(poll int64) []wire.Member {
	now := time.Now().UTC()
	out := make([]wire.Member, 0, f.n)
	for i := range f.n {
		m := wire.Member{Role: "edge", Status: "alive", Outbox: i % 4, Version: Version, LastCentral: now.Add(-time.Duration(i%20) * time.Second)}
		switch {
		case i < 3:
			m.Role, m.Name, m.Self = "central", fmt.Sprintf("lyon-%d", i+1), i == 0
		case i%5 == 0:
			m.Role = "ncb"
		}
		shards := reference.Regions()
		if m.Role != "central" {
			m.Country = fakeCountries[i%len(fakeCountries)]
			c, _ := reference.Country(m.Country)
			shards = []string{c.Region}
			m.Name = fmt.Sprintf("%s-%s-%03d", m.Role, strings.ToLower(m.Country), i)
		}
		k := i + int(poll/10)
		switch {
		case i < 3: // the central sites, this node among them, stay up
		case k%37 == 0:
			m.Status, m.LastCentral = "dead", now.Add(-5*time.Minute)
		case k%53 == 0:
			m.Status = "suspect"
		}
		lag := uint64((i + int(poll)) % 7)
		for _, s := range shards {
			m.Shards = append(m.Shards, wire.MemberShard{Shard: s, Applied: uint64(1000+poll*3) - lag, LagEntries: lag, LagSeconds: int64(lag)})
		}
		m.PeerID = fmt.Sprintf("12D3KooWfake%04d", i)
		out = append(out, m)
	}
	return out
}

func TestFakeFederationAnswersLikeANode(t *testing.T) {
	f := &fakeFederation{n: 200}
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	if resp, _ := consoleGet(t, srv, "/v1/cluster/members"); resp.StatusCode != 401 {
		t.Fatalf("without a token: %s", resp.Status)
	}
	resp, body := consoleGet(t, srv, "/v1/cluster/members", "Authorization", "Bearer x")
	if resp.StatusCode != 200 {
		t.Fatalf("members: %s", resp.Status)
	}
	var got struct{ Members []wire.Member }
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	status := map[string]int{}
	for _, m := range got.Members {
		names[m.Name] = true
		status[m.Status]++
	}
	if len(names) != 200 || status["dead"] == 0 || status["alive"] < 180 {
		t.Fatalf("%d distinct members, statuses %v", len(names), status)
	}
}
