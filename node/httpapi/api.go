package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
)

// Backend is the node's Go API, as the HTTP API calls it. Every call that acts for someone takes
// the authenticated principal; the backend decides what that principal may see and do, and
// returns errors that carry their kind (wire.Error) or that Config.Classify explains.
type Backend interface {
	// Authenticate finds the principal of a bearer token's secret.
	Authenticate(secret string) (auth.Principal, error)

	Search(ctx context.Context, p auth.Principal, req wire.SearchRequest) (*wire.SearchResponse, error)
	// SearchBatch screens body's JSON lines of search requests, handing emit each answer line in
	// order (wire.BatchAnswer or wire.BatchError), then the wire.BatchDone; idle is called
	// while the next answer is not ready.
	SearchBatch(ctx context.Context, p auth.Principal, body io.Reader, emit func(any) error, idle func()) (wire.BatchDone, error)
	Import(ctx context.Context, p auth.Principal, format wire.ImportFormat, body io.Reader) (*wire.ImportResponse, error)
	CreateRecord(ctx context.Context, p auth.Principal, rec *record.Record) error
	UpdateRecord(ctx context.Context, p auth.Principal, rec *record.Record) error
	GetRecord(ctx context.Context, p auth.Principal, id string) (record.Record, error)
	DeleteRecord(ctx context.Context, p auth.Principal, id string) error

	// Review lists the records past their review date that p owns, with counts per country.
	Review(p auth.Principal, f wire.ReviewFilter) (wire.ReviewPage, error)

	Hit(p auth.Principal, id string) (wire.Hit, error)
	Hits(p auth.Principal, f wire.HitFilter) (wire.HitPage, error)
	// WatchHits feeds every hit stored or changed from now on that p may see, until stop.
	WatchHits(p auth.Principal) (feed <-chan wire.Hit, stop func())
	Decide(ctx context.Context, p auth.Principal, id string, d wire.DecisionRequest) (wire.Hit, error)

	CreateTrace(ctx context.Context, p auth.Principal, req wire.TraceRequest) (wire.Trace, error)
	Traces(p auth.Principal, status, cursor string, limit int) ([]wire.Trace, string, error)
	Trace(p auth.Principal, id string) (wire.Trace, error)
	AnswerTrace(p auth.Principal, id, text string) (wire.Trace, error)
	CloseTrace(p auth.Principal, id string) (wire.Trace, error)

	Health() wire.Health
	Shards() []wire.ShardStatus
	// StaleAfter is how long a copy may go without contact with its leader before it is stale
	// (the console applies the node's rule with it).
	StaleAfter() time.Duration
	Members() []wire.Member
	Roster() (wire.RosterView, error)
	Admit(ctx context.Context, p auth.Principal, se transport.SignedEntry) (wire.RosterChange, error)
	Revoke(ctx context.Context, p auth.Principal, sr transport.SignedRevocation) (wire.RosterChange, error)
	Centrals
	Fault(req wire.FaultRequest) error
	UpgradeStatus() wire.UpgradeStatus
	FinalizeUpgrade(ctx context.Context, p auth.Principal) (wire.UpgradeFinalized, error)

	CreateToken(p auth.Principal, req wire.TokenRequest) (wire.NewToken, error)
	ListTokens() []auth.Token
	RevokeToken(p auth.Principal, id string) error
	AuditTail(limit int) ([]audit.Entry, error)
	AuditSince(after uint64, limit int) ([]audit.Entry, error)
	AuditBefore(before uint64, limit int) ([]audit.Entry, error)
	VerifyAudit() (audit.Report, error)
	// AuditAnchors lists the audit heads a member anchored, on a central node.
	AuditAnchors(node string) ([]notify.Anchor, error)
}

// Config is what the HTTP API needs from the node besides its Go API.
type Config struct {
	Node Backend
	// Classify explains an error of the backend that is not a wire.Error (default wire.As).
	Classify func(error) *wire.Error
	// Clock is the node's clock, for timing requests and the streams' keep-alives (default the
	// wall clock).
	Clock clock.Clock
	// Observe is told each API request's route name, status and duration (metrics).
	Observe func(route string, status int, took time.Duration)
	// MaxBodyBytes bounds a request body; MaxImportBytes an import's.
	MaxBodyBytes, MaxImportBytes int64
	// StreamIdle cuts a stream (an import, a screening, the hits stream) once no byte has moved
	// for this long; streams are exempt from the server's read and write timeouts (default 60s).
	StreamIdle time.Duration
	// Metrics serves GET /metrics (to an operator token unless MetricsPublic); Console serves GET
	// /console/ (without a token: the page asks for one).
	Metrics, Console http.Handler
	MetricsPublic    bool
	Log              *slog.Logger
}

// api is the HTTP API over one node.
type api struct {
	b        Backend
	classify func(error) *wire.Error
	clock    clock.Clock
	observe  func(string, int, time.Duration)
	log      *slog.Logger
	// streamIdle: see Config.StreamIdle.
	streamIdle time.Duration
}

// New is the node's HTTP API.
func New(c Config) http.Handler {
	a := &api{b: c.Node, classify: c.Classify, clock: c.Clock, observe: c.Observe, log: c.Log, streamIdle: c.StreamIdle}
	if a.streamIdle <= 0 {
		a.streamIdle = time.Minute
	}
	if a.classify == nil {
		a.classify = wire.As
	}
	if a.clock == nil {
		a.clock = clock.Real{}
	}
	if a.observe == nil {
		a.observe = func(string, int, time.Duration) {}
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	lim := c.MaxBodyBytes
	mux.Handle("POST /v1/search", a.route("search", "searcher", lim, a.search))
	mux.Handle("POST /v1/search/batch", a.route("search.batch", "searcher", c.MaxImportBytes, a.searchBatch))
	mux.Handle("POST /v1/import", a.route("import", "recorder", c.MaxImportBytes, a.importRecords))
	mux.Handle("POST /v1/records", a.route("records.create", "recorder", lim, a.createRecord))
	mux.Handle("GET /v1/records/{id}", a.route("records.get", "searcher", lim, a.getRecord))
	mux.Handle("PUT /v1/records/{id}", a.route("records.update", "recorder", lim, a.updateRecord))
	mux.Handle("DELETE /v1/records/{id}", a.route("records.delete", "recorder", lim, a.deleteRecord))
	mux.Handle("GET /v1/review", a.route("review", "", lim, a.review))
	mux.Handle("GET /v1/shards", a.route("shards", "", lim, a.shards))
	mux.Handle("POST /v1/traces", a.route("traces.create", "", lim, a.createTrace))
	mux.Handle("GET /v1/traces", a.route("traces.list", "", lim, a.traces))
	mux.Handle("GET /v1/traces/{id}", a.route("traces.get", "", lim, a.trace))
	mux.Handle("POST /v1/traces/{id}/answer", a.route("traces.answer", "recorder", lim, a.answerTrace))
	mux.Handle("POST /v1/traces/{id}/close", a.route("traces.close", "", lim, a.closeTrace))
	mux.Handle("GET /v1/reference/makes", a.route("reference.makes", "", lim, a.refMakes))
	mux.Handle("GET /v1/reference/calibres", a.route("reference.calibres", "", lim, a.refCalibres))
	mux.Handle("GET /v1/cluster/members", a.route("members", "", lim, a.members))
	mux.Handle("POST /v1/federation/members", a.route("federation.admit", "admin", lim, a.admit))
	mux.Handle("POST /v1/federation/revocations", a.route("federation.revoke", "admin", lim, a.revoke))
	mux.Handle("GET /v1/federation/roster", a.route("federation.roster", "admin", lim, a.roster))
	a.centralRoutes(mux, lim)
	if src, ok := c.Node.(BackupSource); ok {
		mux.Handle("POST /v1/admin/backup", a.route("admin.backup", "admin", lim, a.backup(src)))
	}
	mux.Handle("GET /v1/federation/upgrade", a.route("federation.upgrade", "admin", lim, a.upgradeStatus))
	mux.Handle("POST /v1/federation/upgrade/finalize", a.route("federation.upgrade.finalize", "admin", lim, a.finalizeUpgrade))
	mux.Handle("POST /v1/debug/faults", a.route("faults", "admin", lim, a.fault))
	mux.Handle("GET /v1/tokens", a.route("tokens.list", "admin", lim, a.tokens))
	mux.Handle("POST /v1/tokens", a.route("tokens.create", "admin", lim, a.createToken))
	mux.Handle("DELETE /v1/tokens/{id}", a.route("tokens.revoke", "admin", lim, a.revokeToken))
	mux.Handle("GET /v1/audit", a.route("audit.tail", "operator", lim, a.auditTail))
	mux.Handle("GET /v1/audit/verify", a.route("audit.verify", "operator", lim, a.auditVerify))
	mux.Handle("GET /v1/audit/anchors", a.route("audit.anchors", "operator", lim, a.auditAnchors))
	mux.Handle("GET /v1/hits", a.route("hits.list", "", lim, a.hits))
	mux.Handle("GET /v1/hits/stream", a.route("hits.stream", "", lim, a.hitStream))
	mux.Handle("GET /v1/hits/{id}", a.route("hits.get", "", lim, a.hit))
	mux.Handle("POST /v1/hits/{id}/decision", a.route("hits.decide", "", lim, a.decide))
	// Health answers 200 with the status in the body, degraded or not, so a monitor can always
	// read why.
	mux.HandleFunc("GET /v1/health", func(w http.ResponseWriter, _ *http.Request) {
		WriteJSON(w, http.StatusOK, a.b.Health())
	})
	switch {
	case c.Metrics != nil && c.MetricsPublic:
		mux.Handle("GET /metrics", c.Metrics)
	case c.Metrics != nil:
		// The counters tell whether searches hit: an operator's business, not anyone's on the network.
		mux.Handle("GET /metrics", a.route("metrics", "operator", lim, func(w http.ResponseWriter, r *http.Request, _ auth.Principal) error {
			c.Metrics.ServeHTTP(w, r)
			return nil
		}))
	}
	if c.Console != nil {
		mux.Handle("GET /console/", c.Console)
		mux.Handle("GET /{$}", http.RedirectHandler("/console/", http.StatusFound))
	}
	mux.Handle("/v1/", a.route("unknown", "", lim, func(_ http.ResponseWriter, r *http.Request, _ auth.Principal) error {
		return wire.Errorf(wire.NotFound, "not_found", "no such endpoint: %s %s", r.Method, r.URL.Path)
	}))
	return mux
}
