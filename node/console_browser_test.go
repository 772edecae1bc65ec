package node

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	"github.com/chromedp/cdproto/performance"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/testutil"
)

// These tests drive a real Chromium against the console. They skip where no Chromium is
// installed (Debian: apt-get install chromium); set FEDARMS_CHROMIUM to use another binary and
// FEDARMS_ARTIFACTS to keep the screenshots.

// chromium finds the browser or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("FEDARMS_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary found (install Debian's chromium, or set FEDARMS_CHROMIUM): skipping the browser test")
	return ""
}

// browser is one headless Chromium tab, with the page's console errors collected.
type browser struct {
	t    *testing.T
	ctx  context.Context // the tab; each step runs under its own deadline derived from it
	mu   sync.Mutex
	logs []string // guarded by mu: console messages, browser log entries and uncaught exceptions
}

// stepTimeout bounds one browser step; waits for the federation pass their own.
const stepTimeout = 30 * time.Second

func newBrowser(t *testing.T) *browser {
	t.Helper()
	exe := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	b := &browser{t: t, ctx: ctx}
	// The first run starts the browser; it must not carry a deadline, which would end the browser.
	if err := chromedp.Do(ctx); err != nil {
		cancelCtx()
		cancelAlloc()
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			b.mu.Lock()
			b.logs = append(b.logs, fmt.Sprintf("%s [%s] %s %s", m.Type, m.Source, m.Text, m.URL))
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
			text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + '\n' + document.body.innerText`))
			cancel()
			t.Logf("page when the test failed (%v):\n%s", err, text)
		}
		cancelCtx()
		cancelAlloc()
		<-done
		if t.Failed() {
			b.mu.Lock()
			t.Logf("browser log:\n%s", strings.Join(b.logs, "\n"))
			b.mu.Unlock()
		}
	})
	return b
}

// do performs actions under one step deadline, failing the test with the step's name.
func (b *browser) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// get runs one action that returns a value.
func get[T any](b *browser, step string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// waitJS polls a JavaScript condition in the page until it is true.
func (b *browser) waitJS(step, cond string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingTimeout(timeout), chromedp.WithPollingInterval(100*time.Millisecond)))
	if err != nil {
		b.t.Fatalf("%s: %v", step, err)
	}
}

// eval evaluates an expression, awaiting a promise, into a T.
func eval[T any](b *browser, step, expr string) T {
	b.t.Helper()
	return get(b, step, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// pageErrors returns the uncaught exceptions and CSP or console errors the page reported.
func (b *browser) pageErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, l := range b.logs {
		if strings.HasPrefix(l, "exception") || strings.HasPrefix(l, "error") || strings.Contains(l, "Content Security Policy") {
			out = append(out, l)
		}
	}
	return out
}

// lowContrast lists the visible texts whose colour against their background falls under WCAG AA
// (4.5:1, or 3:1 for large text); the background is the nearest ancestor's opaque one.
const lowContrast = `(() => {
	const rgb = (c) => (c.match(/[\d.]+/g) || []).map(Number);
	const lum = (c) => {
		const [r, g, b] = rgb(c).slice(0, 3).map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
		return 0.2126 * r + 0.7152 * g + 0.0722 * b;
	};
	const background = (el) => {
		for (; el; el = el.parentElement) {
			const c = rgb(getComputedStyle(el).backgroundColor);
			if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return getComputedStyle(el).backgroundColor;
		}
		return 'rgb(255, 255, 255)';
	};
	const bad = [];
	const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
	for (let n; (n = walk.nextNode());) {
		const el = n.parentElement;
		if (!n.textContent.trim() || !el.getClientRects().length || el.closest('.sr-only, .skip')) continue;
		const s = getComputedStyle(el);
		if (s.visibility === 'hidden') continue;
		const a = lum(s.color), b = lum(background(el));
		const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
		const size = parseFloat(s.fontSize);
		const large = size >= 24 || (size >= 18.66 && Number(s.fontWeight) >= 700);
		if (ratio < (large ? 3 : 4.5)) bad.push(el.tagName + '.' + el.className + ' "' + n.textContent.trim().slice(0, 40) + '" ' + ratio.toFixed(2));
	}
	return bad;
})()`

// contrastOK fails the test for any text on the page under the contrast minimum.
func (b *browser) contrastOK(page string) {
	b.t.Helper()
	if bad := eval[[]string](b, "contrast on "+page, lowContrast); len(bad) > 0 {
		b.t.Errorf("low contrast on %s:\n%s", page, strings.Join(bad, "\n"))
	}
}

func (b *browser) noPageErrors(allowed ...string) {
	b.t.Helper()
	var bad []string
next:
	for _, e := range b.pageErrors() {
		for _, a := range allowed {
			if strings.Contains(e, a) {
				continue next
			}
		}
		bad = append(bad, e)
	}
	if len(bad) > 0 {
		b.t.Errorf("the page reported errors:\n%s", strings.Join(bad, "\n"))
	}
}

// screenshot saves the whole page as NAME.png in the artifacts directory.
func (b *browser) screenshot(name string) string {
	b.t.Helper()
	return b.save(name, get(b, "screenshot "+name, chromedp.FullScreenshot(100)))
}

// screenshotView saves what the window shows, the first screen of a long page.
func (b *browser) screenshotView(name string) string {
	b.t.Helper()
	return b.save(name, get(b, "screenshot "+name, chromedp.CaptureScreenshot()))
}

func (b *browser) save(name string, png []byte) string {
	b.t.Helper()
	p := filepath.Join(artifactsDir(b.t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot %s", p)
	return p
}

// artifactsDir is $FEDARMS_ARTIFACTS/<test name>, or a temporary directory.
func artifactsDir(t *testing.T) string {
	root := os.Getenv("FEDARMS_ARTIFACTS")
	if root == "" {
		return t.TempDir()
	}
	dir := filepath.Join(root, regexp.MustCompile(`[^A-Za-z0-9_.-]+`).ReplaceAllString(t.Name(), "_"))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func css(sel string) chromedp.CSS { return chromedp.CSS(sel) }

// signIn opens the console at base and signs in with the token through the form.
func (b *browser) signIn(base, token string) {
	b.t.Helper()
	b.do("open the console", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(css("#token")))
	b.do("sign in", chromedp.SetValue(css("#token"), token),
		chromedp.Click(css(`form button[type="submit"]`)),
		chromedp.WaitVisible(css(`tr[data-member]`)))
}

// search fills the search form with a serial and waits for the answer.
func (b *browser) search(serial string) {
	b.t.Helper()
	b.do("search "+serial, chromedp.Click(css(`a[data-route="search"]`)),
		chromedp.WaitVisible(css("#q-serial")),
		chromedp.SendKeys(css("#q-serial"), serial+kb.Enter), // submitted from the keyboard
		chromedp.WaitVisible(css("#coverage")))
}

func (b *browser) text(sel string) string {
	b.t.Helper()
	return get(b, "read "+sel, chromedp.Text(css(sel), chromedp.NodeVisible))
}

func TestConsoleBrowserOneNode(t *testing.T) {
	tn := startNode(t, t.TempDir())
	tn.importLines(t, "fr", jsonLines(recordsN(50, "FR")...))
	tn.importLines(t, "fr", jsonLines(reviewed("FR-REVIEW-1", "REV0000001", "2001-01-31"))) // long expired
	b := newBrowser(t)

	// A wrong token is refused on the form, and not kept.
	b.do("open", chromedp.Navigate(tn.srv.URL+"/console/shards"), chromedp.WaitVisible(css("#token")))
	b.do("bad token", chromedp.SetValue(css("#token"), "not-a-token"), chromedp.Click(css(`form button[type="submit"]`)))
	b.waitJS("refusal shown", `document.querySelector('#signin-error').textContent.includes('refused')`, 10*time.Second)
	b.screenshot("01-signin-refused")
	b.contrastOK("sign-in")
	if stored := eval[string](b, "token not kept", `sessionStorage.getItem('fedarms.token') || ''`); stored != "" {
		t.Fatalf("a refused token was kept: %q", stored)
	}

	// The right one lands on the page asked for first (shards), never with the token in the URL.
	b.do("good token", chromedp.SetValue(css("#token"), tn.tokens["admin"]),
		chromedp.Click(css(`form button[type="submit"]`)),
		chromedp.WaitVisible(css(`#own-shards tr[data-shard="europe"]`)))
	if url := get(b, "url", chromedp.Location()); !strings.HasSuffix(url, "/console/shards") || strings.Contains(url, tn.tokens["admin"]) {
		t.Fatalf("after sign-in at %s", url)
	}
	b.do("review panel", chromedp.WaitVisible(css(`#review-records tr[data-record="FR-REVIEW-1"]`)))
	if s := b.text(`#review-counts tr[data-country="FR"]`); strings.Join(strings.Fields(s), " ") != "FR 0 1" {
		t.Errorf("review counts row for FR reads %q, want 0 due and 1 expired", s)
	}
	if s := b.text(`#review-records tr[data-record="FR-REVIEW-1"]`); !strings.Contains(s, "EXPIRED") || !strings.Contains(s, "REV0000001") {
		t.Errorf("review record row reads %q", s)
	}
	b.screenshot("02-shards")
	b.contrastOK("shards")

	b.do("federation", chromedp.Click(css(`a[data-route="federation"]`)),
		chromedp.WaitVisible(css(`tr[data-member="dev"][data-status="alive"]`)))
	b.screenshot("03-federation-one-node")
	b.contrastOK("federation")

	b.search("GLK000007")
	if s := b.text(`li[data-result="FR-000007"] h3`); !strings.Contains(s, "HIT") {
		t.Errorf("first result heading %q has no HIT badge", s)
	}
	if s := b.text("#coverage-state"); !strings.Contains(s, "complete") {
		t.Errorf("coverage state %q", s)
	}
	b.screenshot("04-search-hit")
	b.contrastOK("search")

	// The hit shows among the pending decisions and is confirmed from the page; on a node version
	// without the hit list, the page says so and still looks the hit up by id.
	nid := eval[string](b, "notification id", `document.querySelector('li[data-result="FR-000007"] p code').textContent`)
	b.do("hits", chromedp.Click(css(`a[data-route="hits"]`)))
	b.waitJS("hits shown", fmt.Sprintf(`!!document.querySelector('#hits-absent, [data-decide=%q]')`, nid), 10*time.Second)
	if eval[bool](b, "hit list offered", `!document.querySelector('#hits-absent')`) {
		b.screenshot("05-hits-pending")
		b.contrastOK("hits")
		b.do("confirm", chromedp.SendKeys(css(fmt.Sprintf(`[data-decide=%q] input`, nid)), "seized at the gate"),
			chromedp.Click(css(fmt.Sprintf(`[data-decide=%q] button[data-decision="confirmed"]`, nid))),
			chromedp.Click(css(fmt.Sprintf(`[data-decide=%q] button[data-answer="confirmed"]`, nid))))
		b.waitJS("hit confirmed", fmt.Sprintf(`document.querySelector('tr[data-hit=%q]')?.textContent.includes('confirmed by GS-ADMIN: seized at the gate')`, nid), 10*time.Second)
		b.screenshot("06-hits-confirmed")
		b.contrastOK("hits after a decision")
		var reload string
		b.do("hits after reload", chromedp.Reload(), chromedp.WaitVisible(css(fmt.Sprintf(`tr[data-hit=%q]`, nid))))
		if reload = b.text(fmt.Sprintf(`tr[data-hit=%q]`, nid)); !strings.Contains(reload, "confirmed") {
			t.Errorf("after a reload the hit reads %q", reload)
		}
	} else {
		if s := b.text("#hits-absent"); !strings.Contains(s, "Hit lists arrive with the notification subsystem") {
			t.Errorf("hits page says %q", s)
		}
		b.do("look up hit", chromedp.SendKeys(css("#hit-id"), nid), chromedp.Click(css(`#hit-lookup button[type="submit"]`)),
			chromedp.WaitVisible(css(fmt.Sprintf(`tr[data-hit=%q]`, nid))))
		b.screenshot("05-hits-absent-lookup")
		b.do("reload", chromedp.Reload(), chromedp.WaitVisible(css("#hits-absent")))
	}

	// The reloads above kept the session and the page. From a fresh load the first Tab reaches
	// the skip link, which leads past the header to the page's content.
	b.do("tab", chromedp.KeyEvent(kb.Tab))
	if got := eval[string](b, "focus", `document.activeElement.textContent`); got != "Skip to content" {
		t.Errorf("first Tab focuses %q, want the skip link", got)
	}
	b.do("skip", chromedp.KeyEvent(kb.Enter))
	if got := eval[string](b, "focus", `document.activeElement.id`); got != "main" {
		t.Errorf("the skip link leads to %q, want main", got)
	}
	// Signing out forgets the token.
	b.do("sign out", chromedp.Click(css("#signout")), chromedp.WaitVisible(css("#token")))
	if stored := eval[string](b, "token forgotten", `sessionStorage.getItem('fedarms.token') || ''`); stored != "" {
		t.Fatal("the token survived sign-out")
	}
	// The refused sign-in and the absent hit list are expected 401 and 404 answers.
	b.noPageErrors("401 (Unauthorized)", "404 (Not Found)")
}

func TestConsoleBrowserFederation(t *testing.T) {
	chromium(t) // skip before starting seven nodes
	fc := startFederation(t, fedSpecs(), nil)
	fr := auth.Principal{Agency: "FR-NCB", Country: "FR", Roles: []string{"recorder"}}
	fc.importAt("ncb-fr", fr, fedRecords("FR", 0, 300))
	testutil.WaitFor(t, 30*time.Second, "every member to converge", fc.converged)
	lyon := serveNode(t, fc.nodes["lyon-1"], "GS-ADMIN", "", "admin")
	nbo := serveNode(t, fc.nodes["edge-nbo"], "KE-CUSTOMS", "", "searcher")
	b := newBrowser(t)

	b.signIn(lyon.url, lyon.token)
	b.waitJS("every member alive", `document.querySelectorAll('tr[data-member][data-status="alive"]').length === 7`, 30*time.Second)
	for _, spec := range fedSpecs() {
		if s := b.text(fmt.Sprintf(`tr[data-member=%q] th`, spec.Name)); !strings.HasPrefix(s, spec.Name) {
			t.Errorf("row of %s reads %q", spec.Name, s)
		}
	}
	b.screenshot("01-federation-all-alive")
	b.do("tablet", chromedp.EmulateViewport(820, 1180))
	b.screenshot("02-federation-tablet")
	b.contrastOK("federation on a tablet")
	b.do("laptop", chromedp.EmulateViewport(1280, 900))
	b.do("shards", chromedp.Click(css(`a[data-route="shards"]`)), chromedp.WaitVisible(css(`details[data-shard="europe"] tr[data-member="edge-cdg"]`)))
	if s := b.text(`details[data-shard="europe"] summary`); !strings.Contains(s, "3 voters, 2 non-voters") {
		t.Errorf("europe holders read %q, want 3 voters and 2 non-voters (ncb-fr, edge-cdg)", s)
	}
	b.screenshot("02b-shards-every-holder")
	b.contrastOK("shards")
	b.do("federation", chromedp.Click(css(`a[data-route="federation"]`)), chromedp.WaitVisible(css(`tr[data-member="edge-cdg"]`)))

	// At the Nairobi edge, which holds africa and mena only, a French serial is searched on a peer.
	b2 := newBrowser(t)
	b2.signIn(nbo.url, nbo.token)
	b2.search("FRX000123")
	if s := b2.text(`li[data-result="FR-000123"] h3`); !strings.Contains(s, "HIT") {
		t.Errorf("result heading %q", s)
	}
	if s := b2.text(`#coverage tr[data-shard="europe"]`); !strings.Contains(s, "remote") {
		t.Errorf("europe coverage row %q, want remote", s)
	}
	b2.screenshot("03-search-at-edge-remote-coverage")
	nid := eval[string](b2, "notification id", `document.querySelector('li[data-result="FR-000123"] p code').textContent`)

	// Where the node has the hit list: the hit reaches Lyon, the French NCB confirms it from its
	// own console, and the answer reaches the edge that searched.
	b.do("hits at lyon", chromedp.Click(css(`a[data-route="hits"]`)))
	b.waitJS("hits page", `!!document.querySelector('#hits-absent, #hits-body table, #hits-body p')`, 10*time.Second)
	if eval[bool](b, "hit list offered", `!document.querySelector('#hits-absent')`) {
		b.waitJS("hit reaches lyon", fmt.Sprintf(`!!document.querySelector('tr[data-hit=%q]')`, nid), 30*time.Second)
		b.screenshot("04-hit-arrives-at-lyon")
		ncb := serveNode(t, fc.nodes["ncb-fr"], "FR-NCB", "FR", "recorder", "searcher")
		b3 := newBrowser(t)
		b3.signIn(ncb.url, ncb.token)
		b3.do("hits at ncb-fr", chromedp.Click(css(`a[data-route="hits"]`)))
		b3.waitJS("hit reaches the NCB", fmt.Sprintf(`!!document.querySelector('[data-decide=%q]')`, nid), 30*time.Second)
		b3.do("confirm", chromedp.Click(css(fmt.Sprintf(`[data-decide=%q] button[data-decision="confirmed"]`, nid))),
			chromedp.Click(css(fmt.Sprintf(`[data-decide=%q] button[data-answer="confirmed"]`, nid))))
		b3.waitJS("confirmed at the NCB", fmt.Sprintf(`document.querySelector('tr[data-hit=%q]')?.textContent.includes('confirmed')`, nid), 10*time.Second)
		b3.screenshot("05-ncb-confirms")
		b3.noPageErrors()
		b2.do("hits at the edge", chromedp.Click(css(`a[data-route="hits"]`)))
		b2.waitJS("decision reaches the edge", fmt.Sprintf(`document.querySelector('tr[data-hit=%q]')?.textContent.includes('confirmed by FR-NCB')`, nid), 30*time.Second)
		b2.screenshot("06-edge-sees-confirmation")
	}
	b2.noPageErrors()
	b.do("back to federation", chromedp.Click(css(`a[data-route="federation"]`)), chromedp.WaitVisible(css(`tr[data-member="edge-cdg"]`)))

	// Cut the Paris edge off: Lyon's console shows it unreachable, then raises the alert.
	edge := fc.nodes["edge-cdg"]
	t0 := time.Now()
	edge.fed.faults.Isolate(edge.fed.id.ID)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		shown := eval[string](b, "edge-cdg status", `document.querySelector('tr[data-member="edge-cdg"]').dataset.status`)
		if shown == "dead" || shown == "suspect" {
			break
		}
		if time.Now().After(deadline) {
			// Tell a page that lags the API from an API that never saw the cut.
			said := ""
			for _, m := range fc.nodes["lyon-1"].Members() {
				if m.Name == "edge-cdg" {
					said = m.Status
				}
			}
			t.Fatalf("edge-cdg still %q on the page 60 s after the cut; lyon-1's member list says %q", shown, said)
		}
	}
	t.Logf("edge-cdg shown unreachable %v after the cut", time.Since(t0).Round(100*time.Millisecond))
	b.do("lower the alert threshold", chromedp.Click(css("details.settings summary")),
		chromedp.SetValue(css("#set-downAfterS"), "2"), chromedp.Click(css(`details.settings button[type="submit"]`)))
	b.waitJS("alert raised", `!document.querySelector('#alerts').hidden && document.querySelector('#alert-list').textContent.includes('edge-cdg')`, 30*time.Second)
	b.waitJS("row marked", `document.querySelector('tr[data-member="edge-cdg"]').classList.contains('down')`, 5*time.Second)
	b.do("follow the alert", chromedp.Click(css(`#alert-list li[data-alert="down:edge-cdg"] a`)))
	b.waitJS("the alert leads to the row", `document.activeElement === document.querySelector('tr[data-member="edge-cdg"]')`, 5*time.Second)
	b.screenshot("07-federation-edge-cut")
	b.noPageErrors()
}

// servedNode is a federation member's API on an httptest server, with a token for it.
type servedNode struct {
	url, token string
}

func serveNode(t *testing.T, n *Node, agency, country string, roles ...string) servedNode {
	t.Helper()
	secret, _, err := n.Tokens().Create(agency, country, roles, "")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(n.Handler())
	t.Cleanup(srv.Close)
	return servedNode{url: srv.URL, token: secret}
}

// TestConsoleJSLogic checks the console's pure modules (formatting, grouping, alerts, deadlines,
// the event-stream parser, the backoff) in the browser that runs them, with tables.
func TestConsoleJSLogic(t *testing.T) {
	srv := consoleServer(t)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(srv.URL+"/console/signin"), chromedp.WaitVisible(css("#token")))
	const now = `Date.parse('2026-11-25T10:00:00Z')`
	const ago = `(s) => new Date(Date.parse('2026-11-25T10:00:00Z') - s * 1000).toISOString()`
	for _, tc := range []struct{ name, expr, want string }{
		{"duration", `[0, 59.9, 60, 125, 600, 3599, 3600, 3660, 86400, 90000, null].map(f.duration)`,
			`["0 s","59 s","1 min","2 min 5 s","10 min","59 min","1 h","1 h 1 min","1 d","1 d 1 h","—"]`},
		{"ago", `['', '0001-01-01T00:00:00Z', 'garbage', (` + ago + `)(12)].map((x) => f.ago(x, ` + now + `))`,
			`["never","never","never","12 s ago"]`},
		{"countdown", `[f.countdown(` + now + ` + 600000, ` + now + `), f.countdown(` + now + ` - 180000, ` + now + `)]`,
			`["10 min left","late by 3 min"]`},
		{"num and percent", `[f.num(1234567), f.num(undefined), f.percent(0.966), f.shortDigest('0123456789abcdef')]`,
			`["1,234,567","—","97%","0123456789ab"]`},
		{"backoff", `[0, 1, 2, 3, 4, 10].map(s.backoffMs)`, `[2000,4000,8000,16000,30000,30000]`},
		{"event stream split anywhere", `(() => { const out = []; const p = a.sseParser((e) => out.push(e));
			['event: hit\nid: 1\nda', 'ta: {"a":1}\n\n', ': keep-alive\n\n', 'data: x\r', '\ndata: y\r\n\r\n'].forEach(p); return out; })()`,
			`[{"event":"hit","id":"1","data":"{\"a\":1}"},{"event":"message","id":"1","data":"x\ny"}]`},
		{"group by region", `m.groupMembers([{name: 'lyon-1', role: 'central'}, {name: 'edge-cdg', role: 'edge', country: 'FR'},
			{name: 'ncb-ke', role: 'ncb', country: 'KE'}, {name: 'edge-zz', role: 'edge', country: 'ZZ'}, {name: 'ncb-fr', role: 'ncb', country: 'FR'}],
			{FR: ['France', 'europe'], KE: ['Kenya', 'africa']}).map((g) => [g.region, g.countries.map((c) => c.code + ':' + c.members.map((x) => x.name).join('+'))])`,
			`[["central",[":lyon-1"]],["africa",["KE:ncb-ke"]],["europe",["FR:edge-cdg+ncb-fr"]],["unknown",["ZZ:edge-zz"]]]`},
		{"lag text", `[null, 0, 125, 9223372036].map(m.lagText)`, `["—","0 s","2 min 5 s","never"]`},
		{"alert: never heard from the leader", alerts(`[{name: 'a', status: 'alive', shards: [{shard: 'mena', lag_seconds: 9223372036}]}]`, `[]`, `null`, `{}`), `["stale:a:mena"]`},
		{"member lag", `[m.memberLag({shards: []}), m.memberLag({shards: [{lag_entries: 3, lag_seconds: 1}, {lag_entries: 1, lag_seconds: 9}]})]`,
			`[{"entries":null,"seconds":null},{"entries":3,"seconds":9}]`},
		{"alert: dead past the threshold", alerts(`[{name: 'a', status: 'dead'}]`, `[]`, `null`, `{a: 40}`), `["down:a"]`},
		{"alert: dead under the threshold", alerts(`[{name: 'a', status: 'dead'}]`, `[]`, `null`, `{a: 10}`), `[]`},
		{"alert: last contact long ago", alerts(`[{name: 'a', status: 'suspect', last_contact: (`+ago+`)(300)}]`, `[]`, `null`, `{a: 0}`), `["down:a"]`},
		{"alert: left is not down", alerts(`[{name: 'a', status: 'left'}]`, `[]`, `null`, `{a: 100}`), `[]`},
		{"stale as in Go: strictly past the node's threshold, or never", `[[600, 600], [601, 600], [-1, 600], [9223372036, 600], [5, null], [null, 600], [700, 900]].map(([l, a]) => m.isStale(l, a))`,
			`[false,true,true,true,false,false,false]`},
		{"never heard, as a node reports it now", `[m.lagText(-1), m.needsAttention({status: 'alive', shards: [{lag_seconds: -1}]}, 600), m.needsAttention({status: 'alive', shards: [{lag_seconds: 600}]}, 600)]`,
			`["never",true,false]`},
		{"alert: never heard (lag -1)", alerts(`[{name: 'a', status: 'alive', shards: [{shard: 'mena', lag_seconds: -1}]}]`, `[]`, `null`, `{}`), `["stale:a:mena"]`},
		{"alert: stale copy on a member", alerts(`[{name: 'a', status: 'alive', shards: [{shard: 'europe', lag_seconds: 700}, {shard: 'africa', lag_seconds: 5}]}]`, `[]`, `null`, `{}`), `["stale:a:europe"]`},
		{"alert: leaderless and stale here", alerts(`[]`, `[{shard: 'europe', leader: ''}, {shard: 'africa', leader: 'x', stale: true}, {shard: 'mena', leader: 'x'}]`, `null`, `{}`),
			`["leaderless:europe","stale-self:africa"]`},
		{"alert: halted here", alerts(`[]`, `[{shard: 'europe', leader: 'x', stale: true, halted: 'state file cannot be written: no space left on device'}]`, `null`, `{}`), `["halted:europe"]`},
		{"alert: hit overdue and undelivered", alerts(`[]`, `[]`,
			`[{id: 'h1', decision: 'pending', deadline: (`+ago+`)(1), searched_at: (`+ago+`)(400), receipts: {gs: 'x', ncb: ''}},
			  {id: 'h2', decision: 'confirmed', deadline: (`+ago+`)(1), searched_at: (`+ago+`)(10), receipts: {gs: 'x', ncb: ''}}]`, `{}`),
			`["deadline:h1","undelivered:h1"]`},
		{"deadline given, urgent and routine assumed", `[{deadline: '2026-11-25T10:05:00Z'}, {searched_at: '2026-11-25T10:00:00Z', urgent: true},
			{searched_at: '2026-11-25T10:00:00Z'}, {}].map((x) => { const d = m.hitDeadline(x); return d && [new Date(d.ms).toISOString(), d.assumed]; })`,
			`[["2026-11-25T10:05:00.000Z",false],["2026-11-25T10:10:00.000Z",true],["2026-11-25T11:00:00.000Z",true],null]`},
		{"digest agreement", `[m.digestAgreement('d1', [{name: 'a', self: true, digest: ''}, {name: 'b', digest: ''}]),
			m.digestAgreement('d1', [{name: 'b', digest: 'd1'}, {name: 'c', digest: 'd2'}])]`,
			`[null,{"known":3,"agree":2,"differ":["c"]}]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expr := `Promise.all(['format', 'model', 'api', 'store'].map((n) => import('/console/js/' + n + '.js')))
				.then(([f, m, a, s]) => JSON.stringify(` + tc.expr + `))`
			got := eval[string](b, tc.name, expr)
			var g, w any
			if err := json.Unmarshal([]byte(got), &g); err != nil {
				t.Fatalf("result %s: %v", got, err)
			}
			if err := json.Unmarshal([]byte(tc.want), &w); err != nil {
				t.Fatalf("want %s: %v", tc.want, err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// TestConsoleBrowserDegrades checks what the page says when the node lacks an API or stops
// answering: a node version without the hit list, then a node that answers 503 and comes back.
func TestConsoleBrowserDegrades(t *testing.T) {
	f := &fakeFederation{n: 12, noHits: true}
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	b := newBrowser(t)
	b.signIn(srv.URL, "any")
	b.do("hits", chromedp.Click(css(`a[data-route="hits"]`)), chromedp.WaitVisible(css("#hits-absent")))
	if s := b.text("#hits-absent"); !strings.Contains(s, "Hit lists arrive with the notification subsystem") {
		t.Errorf("hits page says %q", s)
	}
	b.screenshot("01-hits-not-on-this-version")
	b.contrastOK("hits absent")

	b.do("federation", chromedp.Click(css(`a[data-route="federation"]`)), chromedp.WaitVisible(css("tr[data-member]")))
	polls := f.polls.Load()
	f.down.Store(true)
	b.waitJS("retrying shown", `document.querySelector('#live').dataset.state === 'retry'`, 10*time.Second)
	if s := b.text("#live"); !strings.Contains(s, "No answer") {
		t.Errorf("live indicator reads %q", s)
	}
	if n := eval[int](b, "rows kept", `document.querySelectorAll('tr[data-member]').length`); n != 12 {
		t.Errorf("%d rows while the node does not answer, want the last 12 kept", n)
	}
	b.waitJS("banner says so", `document.querySelector('#alert-list').textContent.includes('has not answered since')`, 5*time.Second)
	b.screenshot("02-node-not-answering")
	b.contrastOK("node not answering")
	f.down.Store(false)
	b.waitJS("live again", `document.querySelector('#live').dataset.state === 'ok'`, 20*time.Second)
	if f.polls.Load() <= polls {
		t.Error("no poll reached the node after it came back")
	}
	b.noPageErrors("404 (Not Found)", "503 (Service Unavailable)")
}

func TestConsoleContrastCheckCatchesPaleText(t *testing.T) {
	srv := consoleServer(t)
	b := newBrowser(t)
	b.do("open", chromedp.Navigate(srv.URL+"/console/signin"), chromedp.WaitVisible(css("#token")))
	b.contrastOK("sign-in")
	eval[chromedp.Void](b, "add pale text", `(() => { const p = document.createElement('p'); p.id = 'pale';
		p.textContent = 'pale grey'; p.style.color = '#aaaaaa'; document.querySelector('main').append(p); })()`)
	bad := eval[[]string](b, "contrast", lowContrast)
	if len(bad) != 1 || !strings.Contains(bad[0], "pale grey") {
		t.Fatalf("the check found %q, want the pale paragraph only", bad)
	}
}

// alerts builds a computeAlerts call at a fixed time with a 30 s down threshold, returning the keys.
// firstSeen maps member names to how many seconds ago the console first saw them down.
func alerts(members, shards, hits, firstSeen string) string {
	return `m.computeAlerts({members: ` + members + `, shards: ` + shards + `, hits: ` + hits + `,
		firstSeenDown: new Map(Object.entries(` + firstSeen + `).map(([k, v]) => [k, Date.parse('2026-11-25T10:00:00Z') - v * 1000])),
		nowMs: Date.parse('2026-11-25T10:00:00Z'), settings: m.DEFAULT_SETTINGS, staleAfterS: 600}).map((x) => x.key)`
}

// firstPaint is the page's first contentful paint, in ms after navigation started.
const firstPaint = `new Promise((resolve) => {
	const e = performance.getEntriesByName('first-contentful-paint')[0];
	if (e) return resolve(e.startTime);
	new PerformanceObserver((l) => resolve(l.getEntries()[0].startTime)).observe({ type: 'paint', buffered: true });
})`

// TestConsoleFirstPaint200Members measures the console against 200 simulated members on loopback:
// the first paint of a cold load, and of a signed-in reload until all 200 rows are on the page.
// Opt-in: FEDARMS_CONSOLE_PERF=1.
func TestConsoleFirstPaint200Members(t *testing.T) {
	if os.Getenv("FEDARMS_CONSOLE_PERF") == "" {
		t.Skip("set FEDARMS_CONSOLE_PERF=1 to measure first paint with 200 simulated members")
	}
	f := &fakeFederation{n: 200}
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	b := newBrowser(t)

	b.do("cold load", chromedp.Navigate(srv.URL+"/console/federation"), chromedp.WaitVisible(css("#token")))
	cold := eval[float64](b, "cold first paint", firstPaint)
	b.do("sign in", chromedp.SetValue(css("#token"), "any"), chromedp.Click(css(`form button[type="submit"]`)))
	b.waitJS("200 rows", `document.querySelectorAll('tr[data-member]').length === 200`, 10*time.Second)

	b.do("reload", chromedp.Reload())
	b.waitJS("200 rows again", `document.querySelectorAll('tr[data-member]').length === 200 && performance.getEntriesByName('fedarms:members').length > 0`, 10*time.Second)
	warm := eval[float64](b, "first paint", firstPaint)
	rows := eval[float64](b, "rows", `performance.getEntriesByName('fedarms:members')[0].startTime`)
	t.Logf("200 members: cold first paint %.0f ms; signed-in reload: first paint %.0f ms, all 200 rows on the page at %.0f ms", cold, warm, rows)
	b.screenshotView("federation-200-members-first-screen")
	b.do("only members needing attention", chromedp.Click(css("#only-attention")))
	b.screenshotView("federation-200-members-attention")
	for what, ms := range map[string]float64{"cold first paint": cold, "first paint": warm, "200 rows": rows} {
		if ms > 1000 {
			t.Errorf("%s took %.0f ms, over 1 s", what, ms)
		}
	}
	b.noPageErrors()
}

// TestConsoleMemoryFlatUnderLiveUpdates keeps the console open on 200 simulated members whose
// states change on every poll, moving between the views, and checks that the JavaScript heap,
// the DOM and the listeners do not grow. Opt-in: FEDARMS_CONSOLE_SOAK=10m (any duration).
func TestConsoleMemoryFlatUnderLiveUpdates(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("FEDARMS_CONSOLE_SOAK"))
	if err != nil {
		t.Skip("set FEDARMS_CONSOLE_SOAK to a duration (e.g. 10m) to check that memory stays flat under live updates")
	}
	f := &fakeFederation{n: 200}
	srv := httptest.NewServer(f.handler())
	defer srv.Close()
	b := newBrowser(t)
	b.signIn(srv.URL, "any")
	b.waitJS("200 rows", `document.querySelectorAll('tr[data-member]').length === 200`, 10*time.Second)
	b.do("metrics on", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, performance.Enable, performance.EnableParams{})
		return err
	}))
	sample := func() map[string]float64 {
		return get(b, "sample", chromedp.Action[map[string]float64](func(ctx context.Context, _ *chromedp.Target) (map[string]float64, error) {
			if _, err := chromedp.Call(ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
				return nil, err
			}
			r, err := chromedp.Call(ctx, performance.GetMetrics, cdp.Empty{})
			if err != nil {
				return nil, err
			}
			out := map[string]float64{}
			for _, m := range r.Metrics {
				out[m.Name] = m.Value
			}
			return out, nil
		}))
	}
	views := []string{"shards", "hits", "search", "federation"}
	const samples = 20
	step := d / samples
	warmup := min(30*time.Second, d/5)
	time.Sleep(warmup)
	base := sample()
	polls0 := f.polls.Load()
	for i := range samples {
		time.Sleep(step)
		// Visit the other views now and then, and come back, so mounting and unmounting is exercised.
		if i%5 == 4 {
			for _, v := range views {
				b.do("visit "+v, chromedp.Click(css(fmt.Sprintf(`a[data-route=%q]`, v))), chromedp.WaitVisible(css("main h1")))
			}
			b.waitJS("back on federation", `document.querySelectorAll('tr[data-member]').length === 200`, 10*time.Second)
		}
		s := sample()
		t.Logf("after %v: JS heap %.2f MB, DOM nodes %.0f, listeners %.0f", warmup+time.Duration(i+1)*step,
			s["JSHeapUsedSize"]/1e6, s["Nodes"], s["JSEventListeners"])
	}
	end := sample()
	polls := f.polls.Load() - polls0
	t.Logf("%d polls over %v; JS heap %.2f -> %.2f MB, DOM nodes %.0f -> %.0f, listeners %.0f -> %.0f", polls, d,
		base["JSHeapUsedSize"]/1e6, end["JSHeapUsedSize"]/1e6, base["Nodes"], end["Nodes"], base["JSEventListeners"], end["JSEventListeners"])
	if want := int64(d / (3 * time.Second)); polls < want {
		t.Errorf("only %d polls in %v: the page stopped updating", polls, d)
	}
	if end["JSHeapUsedSize"] > base["JSHeapUsedSize"]*1.2+1e6 {
		t.Errorf("JS heap grew from %.2f to %.2f MB", base["JSHeapUsedSize"]/1e6, end["JSHeapUsedSize"]/1e6)
	}
	if end["Nodes"] > base["Nodes"]*1.1+100 || end["JSEventListeners"] > base["JSEventListeners"]+50 {
		t.Errorf("DOM grew from %.0f to %.0f nodes, listeners from %.0f to %.0f", base["Nodes"], end["Nodes"], base["JSEventListeners"], end["JSEventListeners"])
	}
	b.noPageErrors()
}
