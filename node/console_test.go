package node

import (
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strings"
	"testing"
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
