package node

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/fedarms/fedarms/internal/reference"
)

// The console is a single-page app of hand-written HTML, CSS and JavaScript modules: no build step,
// nothing fetched from outside the node. console/index.html is the shell, console/app.css the one
// style sheet, console/js/app.js the entry module (router, session, live data), console/js/views/
// one module per page; pure logic (grouping, alerts, formatting) sits in modules without DOM access.
// Only asset types are embedded, so notes beside them (console/DESIGN.md) are never served.
//
//go:embed console/*.html console/*.css console/*.svg console/js
var consoleFiles embed.FS

// consoleCSP forbids everything the console does not need: scripts and styles come from the node
// only (no inline code, so injected markup cannot run), calls go to the node's own API, and no
// other site may frame the page.
const consoleCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// consoleTypes are the content types of the console's assets, fixed here rather than read from
// the host's MIME tables, which differ between machines.
var consoleTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".json": "application/json",
	".svg":  "image/svg+xml",
}

// consoleAsset is one file served by the console, with its validator.
type consoleAsset struct {
	body  []byte
	ctype string
	etag  string
}

var (
	consoleOnce   sync.Once
	consoleAssets map[string]consoleAsset // by path below /console/; read-only after consoleOnce
)

// loadConsoleAssets reads the embedded files once, plus countries.json, which the console derives
// from the reference tables so that its region grouping cannot drift from the shard map's defaults.
func loadConsoleAssets() map[string]consoleAsset {
	consoleOnce.Do(func() {
		consoleAssets = map[string]consoleAsset{}
		sub, err := fs.Sub(consoleFiles, "console")
		if err != nil {
			panic("console: " + err.Error()) // the embed directive guarantees the directory
		}
		_ = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := fs.ReadFile(sub, p)
			if err != nil {
				return err
			}
			consoleAssets[p] = newConsoleAsset(p, b)
			return nil
		})
		consoleAssets["countries.json"] = newConsoleAsset("countries.json", consoleCountries())
	})
	return consoleAssets
}

func newConsoleAsset(name string, b []byte) consoleAsset {
	sum := sha256.Sum256(b)
	ctype, ok := consoleTypes[path.Ext(name)]
	if !ok {
		ctype = "application/octet-stream"
	}
	return consoleAsset{body: b, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
}

// consoleCountries is {"FR": ["France", "europe"], ...}: name and INTERPOL region by ISO code.
func consoleCountries() []byte {
	m := map[string][2]string{}
	for _, c := range reference.Countries() {
		m[c.Code] = [2]string{c.Name, c.Region}
	}
	b, _ := json.Marshal(m)
	return b
}

// consoleHandler serves the console under /console/: each asset by its name, and index.html for
// any other path without an extension, so that a client-side route (/console/shards) survives a
// reload or a bookmark. A missing asset (a path with an extension) is a plain 404, so a typo in a
// script's import fails loudly rather than loading the page as JavaScript.
func consoleHandler() http.Handler {
	assets := loadConsoleAssets()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", consoleCSP)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		name := strings.TrimPrefix(r.URL.Path, "/console/")
		a, ok := assets[name]
		if !ok && path.Ext(name) == "" && !strings.Contains(name, "..") {
			a, ok = assets["index.html"]
		}
		if !ok {
			h.Set("Cache-Control", "no-store")
			http.Error(w, "no such console file: "+name, http.StatusNotFound)
			return
		}
		// Assets keep their names across versions, so the browser revalidates each one; the ETag
		// makes that a 304 without a body until the node is upgraded.
		h.Set("Cache-Control", "no-cache")
		h.Set("ETag", a.etag)
		h.Set("Content-Type", a.ctype)
		http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(a.body))
	})
}
