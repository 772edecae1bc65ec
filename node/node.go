package node

import (
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/version"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/replication"
)

// Version is this build's release (internal/version), reported in health and membership.
var Version = version.Release()

// shardCopy is a copy of a shard this node holds, as search, the index, status and health read
// it: a raft group (*replication.Group) or a fed holder, which takes the shard from other holders
// outside the raft group (feed_hold.go).
type shardCopy interface {
	State() *replication.State
	// Freshness is the copy's applied index and its last contact with the shard (its leader, or
	// the source a fed holder takes it from).
	Freshness() (appliedIndex uint64, lastContact time.Time)
	Status() replication.Status
	Halted() (replication.Halt, bool)
	Close() error
}

// allHeld lists every shard this node holds, raft groups and fed holders, sorted.
func (n *Node) allHeld() []string {
	if len(n.fedHeld) == 0 {
		return n.held
	}
	out := append(slices.Clone(n.held), n.fedHeld...)
	slices.Sort(out)
	return out
}

// Node is one running fedarms node.
type Node struct {
	cfg      *config.Config
	log      *slog.Logger
	shardMap config.ShardMap
	// groups holds the raft group of every shard this node holds; fixed after Open.
	groups map[string]*replication.Group
	held   []string // sorted shard names of groups
	// copies holds every shard this node holds, its raft groups and its fed holders (feed_hold.go)
	// alike: what search, the index, status and health read. Fixed after Open.
	copies map[string]shardCopy
	// fedHeld are the sorted shard names of the fed holders among copies (not in groups).
	fedHeld []string
	// readers are the releases members run that read each raft command format (formats.go).
	readers formatReaders
	db      *bolt.DB // node.db: tokens, audit, hits
	// dirLock holds DATA/LOCK while the node is open.
	dirLock *os.File
	// atRest is the data dir's encryption at rest (atrest.go); set in Open.
	atRest  atRest
	audit   *audit.Log
	tokens  *auth.Store
	index   *liveIndex
	hits    *notify.Store
	webhook *webhook // nil without [notify.webhook] (webhook.go)
	late    *lateWindow
	reads   *readLimiter // each token's searches and records read (readlimit.go)
	clock   clock.Clock  // every read of the time in node and notify (now, since: clock.go)
	// deliver retries hit notifications and decisions; nil on a one-node federation.
	deliver *deliverer
	fed     *fed // nil for a one-node federation
	met     *metrics
	start   time.Time
	refusal refusals // members' requests refused, for the log and audit (refuse.go)
	disk    headroom // free space of the data dir, read at most once a second (diskspace.go)

	httpSrv *http.Server
	ln      net.Listener
	certs   *certStore // the API's certificate; nil when it serves plain HTTP

	closeOnce sync.Once
	closeErr  error
}

// Tokens is the node's token store (the CLI's dev command mints the admin token with it).
func (n *Node) Tokens() *auth.Store { return n.tokens }

// Config is the node's config.
func (n *Node) Config() *config.Config { return n.cfg }

func orNone(s string) string {
	if s == "" {
		return "no country"
	}
	return s
}
