// Package config parses and validates a fedarms node's configuration file (TOML). It is pure: it
// reads from an io.Reader, never touches the disk or the network, and reports every problem at once,
// each naming its field and the bad value. It may import only record-free leaf packages (reference).
package config

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// Version is the config file format this build reads.
const Version = 1

// Roles a node may play in the federation.
const (
	RoleCentral = "central"
	RoleNCB     = "ncb"
	RoleEdge    = "edge"
)

// Config is one node's configuration.
type Config struct {
	Version  int    `toml:"version"`
	Name     string `toml:"name"`
	Role     string `toml:"role"`
	Country  string `toml:"country"`
	DataDir  string `toml:"data_dir"`
	HTTPAddr string `toml:"http_addr"`
	// Shards lists the shards this node holds; "*" means all.
	Shards []string `toml:"shards"`
	// MaxStaleness marks answers from a copy whose last contact with its leader is older as stale.
	MaxStaleness Duration `toml:"max_staleness"`
	// MetricsPublic serves /metrics without a token (for a Prometheus on the same host that cannot
	// send one); by default it needs an operator token, since its counters tell whether searches
	// hit.
	MetricsPublic bool `toml:"metrics_public"`
	// ShardMap overrides the default country -> shard assignment (one shard per INTERPOL region).
	ShardMap map[string]string `toml:"shard_map"`
	Raft     Raft              `toml:"raft"`
	Audit    Audit             `toml:"audit"`
	Storage  Storage           `toml:"storage"`
	Search   Search            `toml:"search"`
	Limits   Limits            `toml:"limits"`
	TLS      TLS               `toml:"tls"`
	Log      Log               `toml:"log"`
	// Federation, when set, makes this node a member of a multi-node federation over libp2p;
	// without it the node is a one-node federation.
	Federation *Federation `toml:"federation"`
	Notify     Notify      `toml:"notify"`
	Retention  Retention   `toml:"retention"`

	// Replication caps this node's replication traffic (bandwidth.go).
	Replication Replication `toml:"replication"`
}

// Notify sets the hit-confirmation deadlines the recording NCB is held to (after US NCIC practice:
// 10 minutes when the searcher marks the hit urgent, 1 hour otherwise).
type Notify struct {
	Routine Duration `toml:"routine_deadline"`
	Urgent  Duration `toml:"urgent_deadline"`
	// LateWindow is how long searches are re-checked against newer records (delayed inquiry).
	LateWindow Duration `toml:"late_window"`
	// LateMaxSearches bounds the searches remembered for re-checking.
	LateMaxSearches int `toml:"late_max_searches"`
	// Webhook pushes the hits and decisions on this node's inbox to a national system (webhook.go);
	// nil when not set.
	Webhook *Webhook `toml:"webhook"`
}

// Federation configures membership in a multi-node federation.
type Federation struct {
	// Listen are the libp2p listen multiaddrs (TCP and QUIC), e.g. "/ip4/0.0.0.0/tcp/4001".
	Listen []string `toml:"listen"`
	// RootPub is the federation's root public key (as `fedarms federation init` prints it); every
	// roster entry must be signed by it.
	RootPub string `toml:"root_pub"`
	// RosterFile holds the signed roster entries (JSON array); relative paths are relative to the
	// config file.
	RosterFile string `toml:"roster_file"`
	// KeyFile is the node key (libp2p identity) when it is kept outside the data dir, e.g. by
	// `fedarms site init` under /etc/fedarms/credentials; relative paths are relative to the config
	// file. Empty: data_dir/node.key, created on first start. Under systemd, a node.key the unit
	// passes with LoadCredential= ($CREDENTIALS_DIRECTORY/node.key) takes precedence.
	KeyFile string `toml:"key_file,omitempty"`
	// TestFaults enables POST /v1/debug/faults (cut, heal, isolate, rejoin) for drills and tests.
	// Never set it in production.
	TestFaults bool `toml:"test_faults"`
}

// Raft tunes the raft groups.
type Raft struct {
	// SnapshotThreshold is how many log entries trigger a snapshot.
	SnapshotThreshold uint64 `toml:"snapshot_threshold"`
	// TrailingLogs is how many entries are kept after a snapshot, so lagging holders catch up from
	// the log instead of a full snapshot.
	TrailingLogs uint64 `toml:"trailing_logs"`
	// ApplyBatch is the most records carried by one raft log entry during an import.
	ApplyBatch int `toml:"apply_batch"`
}

// Search tunes the match index.
type Search struct {
	// HugePages backs the index's memory with transparent huge pages once it is built (Linux 6.1
	// and later; see package hugepage): exact searches about 10-15% faster at 1.4M records, for a
	// few seconds of background work after start and after each compaction.
	HugePages bool `toml:"huge_pages"`
}

// Audit sets how searches are written to the audit log.
type Audit struct {
	// Durability is "sync" (a search answer waits until its audit entry is on disk) or "async"
	// (the entry is queued and committed within milliseconds; a crash can lose the last few).
	Durability string `toml:"durability"`
}

// Storage says how the data dir is kept at rest. A new data dir is encrypted with a random data
// key kept in DATA/datakey.json; that file is sealed by a passphrase or a systemd credential when
// one is set here, and is destroyed when the node learns it is revoked (docs/operations.md).
type Storage struct {
	// PassphraseFile names a file whose content (up to a final newline) seals the data key.
	PassphraseFile string `toml:"passphrase_file"`
	// Credential names a systemd credential that seals the data key: the unit loads it with
	// LoadCredentialEncrypted=NAME:PATH and the node reads $CREDENTIALS_DIRECTORY/NAME.
	Credential string `toml:"credential"`
	// Plain creates a new data dir unencrypted: only to measure what encryption costs. A dir
	// that exists keeps the kind it was created as.
	Plain bool `toml:"plain"`
}

// Limits bound what one request may cost.
type Limits struct {
	MaxBodyBytes   int64 `toml:"max_body_bytes"`
	MaxImportBytes int64 `toml:"max_import_bytes"`
	MaxSearchLimit int   `toml:"max_search_limit"`
	// MinFreeBytes is the free space the data dir keeps: below it record writes are refused (503)
	// and health is degraded, so a full disk never stops a shard mid-write. 0 turns the check off.
	MinFreeBytes int64 `toml:"min_free_bytes"`
	// ReadTimeout bounds reading a request (headers and body), WriteTimeout writing its answer and
	// IdleTimeout how long a keep-alive connection may wait for its next request. Streams (an
	// import, a screening, the hits stream) are exempt and held to StreamIdleTimeout instead: they
	// are cut when no byte moves for that long.
	ReadTimeout       Duration `toml:"read_timeout"`
	WriteTimeout      Duration `toml:"write_timeout"`
	IdleTimeout       Duration `toml:"idle_timeout"`
	StreamIdleTimeout Duration `toml:"stream_idle_timeout"`
	// MaxHeaderBytes bounds a request's header.
	MaxHeaderBytes int `toml:"max_header_bytes"`
	// MaxConns bounds the API's open connections, MaxConnsPerClient those from one IP address; a
	// connection over either is closed at once (fedarms_http_connections_refused_total).
	MaxConns          int `toml:"max_conns"`
	MaxConnsPerClient int `toml:"max_conns_per_client"`
	// Read limits of each token unless the token sets its own (-1: no limit): the searches it
	// makes and the distinct records its answers carry, per hour and per day. Beyond them a search
	// is refused (429, audited, fedarms_read_refusals_total), so no searcher token can page through
	// the register. The defaults fit a busy airport's officers; a bulk-screening service gets a
	// token with its own.
	SearchesPerHour int `toml:"searches_per_hour"`
	SearchesPerDay  int `toml:"searches_per_day"`
	RecordsPerHour  int `toml:"records_per_hour"`
	RecordsPerDay   int `toml:"records_per_day"`
}

// TLS is the API's certificate. Without one the API speaks plain HTTP, which a node allows only on
// a loopback http_addr unless AllowPlaintext says otherwise.
type TLS struct {
	// CertFile and KeyFile are PEM files (as `fedarms federation cert` writes them); relative
	// paths are relative to the config file. The node reads them again when they change.
	CertFile string `toml:"cert_file"`
	KeyFile  string `toml:"key_file"`
	// AllowPlaintext lets a node serve plain HTTP on a non-loopback address (behind a TLS proxy,
	// or on a network the operator trusts): bearer tokens then cross that network in clear.
	AllowPlaintext bool `toml:"allow_plaintext"`
}

// Enabled says whether the API serves HTTPS.
func (t TLS) Enabled() bool { return t.CertFile != "" }

// Log sets the log format.
type Log struct {
	Format string `toml:"format"` // text or json
	Level  string `toml:"level"`  // debug, info, warn, error
}

// Duration is a time.Duration written as "90s", "10m", "48h" or "90d" in the file.
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string, or a whole number of days ("90d").
func (d *Duration) UnmarshalText(b []byte) error {
	if v, ok := parseDays(string(b)); ok {
		d.Duration = v
		return nil
	}
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration like 90s, 10m, 48h or 90d: %q", b)
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration back in Go syntax.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Parse reads a config file, applies defaults and validates it. A *Problems error lists every
// problem found.
func Parse(r io.Reader) (*Config, error) {
	c := Default()
	md, err := toml.NewDecoder(r).Decode(c)
	if err != nil {
		return nil, &Problems{List: []Problem{{Field: "", Message: err.Error()}}}
	}
	var ps []Problem
	for _, k := range md.Undecoded() {
		ps = append(ps, Problem{Field: k.String(), Message: "unknown key"})
	}
	ps = append(ps, c.validate()...)
	if len(ps) > 0 {
		sort.SliceStable(ps, func(i, j int) bool { return ps[i].Field < ps[j].Field })
		return nil, &Problems{List: ps}
	}
	return c, nil
}

// Problem is one thing wrong with a config.
type Problem struct {
	Field   string
	Value   string
	Message string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	if p.Value != "" {
		fmt.Fprintf(&b, " (got %q)", p.Value)
	}
	return b.String()
}

// Problems is every problem found in a config.
type Problems struct{ List []Problem }

func (e *Problems) Error() string {
	lines := make([]string, len(e.List))
	for i, p := range e.List {
		lines[i] = p.String()
	}
	return fmt.Sprintf("%d problem(s) in config:\n  %s", len(lines), strings.Join(lines, "\n  "))
}
