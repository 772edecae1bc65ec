package node

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/clock"
	"github.com/fedarms/fedarms/internal/seal"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/replication"
)

// Options are what a node needs besides its config.
type Options struct {
	Logger *slog.Logger
	// Clock is the node's time: audit entries, tokens, hits and their deadlines, decisions,
	// receipts, the late window, staleness, backoff and the loops' tickers; default the wall clock.
	// Tests pass a clock.Fake and move it.
	Clock clock.Clock
}

// Open opens the node's data dir (creating it on first start), its shards and its index.
func Open(cfg *config.Config, opts Options) (*Node, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Clock == nil {
		opts.Clock = clock.Real{}
	}
	n := &Node{cfg: cfg, log: opts.Logger, shardMap: cfg.ShardMapFull(), groups: map[string]*replication.Group{}, copies: map[string]shardCopy{}, start: opts.Clock.Now(), clock: opts.Clock}
	n.disk.clock = opts.Clock
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	var err error
	if n.dirLock, err = lockDataDir(cfg.DataDir); err != nil {
		return nil, err
	}
	if err := refuseRevokedDir(cfg.DataDir); err != nil {
		n.dirLock.Close()
		return nil, err
	}
	_, statErr := os.Stat(filepath.Join(cfg.DataDir, "node.db"))
	fresh := errors.Is(statErr, fs.ErrNotExist)
	newFormat := DataFormat
	if cfg.Storage.Plain {
		newFormat = plainDataFormat
	}
	format, err := prepareDataDir(cfg.DataDir, n.log, n.now, newFormat)
	if err != nil {
		n.dirLock.Close()
		return nil, err
	}
	if n.atRest, err = openDataKey(cfg, format, fresh, n.log.With("subsystem", "storage")); err != nil {
		n.dirLock.Close()
		return nil, err
	}
	// NoFreelistSync: node.db grows by the audit log, and writing its free-page list at every commit
	// (a hit, a fold of the audit journal) cost 0.6 MB of allocations and a third of a hit's time at
	// 1.5 GB (BenchmarkSearchExact/search: p50 1.0 -> 0.66 ms); the list is rebuilt at open instead.
	n.db, err = bolt.Open(filepath.Join(cfg.DataDir, "node.db"), 0o600,
		&bolt.Options{Timeout: 2 * time.Second, FreelistType: bolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		n.dirLock.Close()
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("data dir %s is in use by another fedarms process", cfg.DataDir)
		}
		return nil, fmt.Errorf("open node.db: %w", err)
	}
	if n.audit, err = audit.Open(n.db, audit.Options{Now: opts.Clock.Now, Journal: filepath.Join(cfg.DataDir, "audit.journal"), Key: n.atRest.key}); err != nil {
		n.db.Close()
		n.dirLock.Close()
		return nil, fmt.Errorf("audit: %w", err)
	}
	if n.tokens, err = auth.OpenStore(n.db, opts.Clock.Now); err != nil {
		n.Close()
		return nil, fmt.Errorf("tokens: %w", err)
	}
	if n.hits, err = notify.OpenSealed(n.db, opts.Clock.Now, n.atRest.key); err != nil {
		n.Close()
		return nil, err
	}
	n.met = newMetrics(n)
	n.met.reg.MustRegister(newReviewMetrics(n))
	if err := n.openWebhook(); err != nil {
		n.Close()
		return nil, err
	}
	n.reads = newReadLimiter(auth.ReadLimits{SearchesPerHour: cfg.Limits.SearchesPerHour, SearchesPerDay: cfg.Limits.SearchesPerDay,
		RecordsPerHour: cfg.Limits.RecordsPerHour, RecordsPerDay: cfg.Limits.RecordsPerDay})
	n.index = newLiveIndex(n.log.With("subsystem", "index"), n.clock)
	n.index.huge = &hugePager{on: cfg.Search.HugePages, log: n.log.With("subsystem", "index"), clock: n.clock}
	n.late = newLateWindow(cfg.Notify.LateWindow.Duration, cfg.Notify.LateMaxSearches)
	// Reading the window back from the audit log takes seconds with a busy log; the node serves
	// meanwhile, and re-checks wait for it (lateCheck).
	go func() {
		defer close(n.late.loaded)
		if err := n.loadLateWindow(); err != nil {
			n.log.Error("rebuilding the delayed-inquiry window from the audit log", "error", err)
		}
	}()
	n.index.onApplied = n.lateCheck
	if cfg.Federation != nil {
		if n.fed, err = openFederation(cfg, n.log, n.refused, n.met, n.atRest.key); err != nil {
			n.Close()
			if errors.Is(err, ErrRevoked) {
				// Revoked while it was down: what it holds goes, as it would have gone live.
				n.log.Error("this node has been revoked from the federation: destroying its data key and its data", "subsystem", "storage", "dir", cfg.DataDir)
				err = errors.Join(err, seal.DestroyKey(cfg.DataDir), removeData(cfg.DataDir, n.now()))
			}
			return nil, err
		}
		go n.watchRevocation(n.fed.selfRevoked)
		if err := n.openLateFederation(); err != nil {
			n.Close()
			return nil, err
		}
		if err := n.openInbox(); err != nil {
			n.Close()
			return nil, err
		}
	}
	t0 := n.now()
	for _, shard := range cfg.Held(n.shardMap) {
		if srcs := cfg.Replication.Sources[shard]; n.fed != nil && len(srcs) > 0 {
			h, err := n.openFedHolder(shard, srcs)
			if err != nil {
				n.Close()
				return nil, err
			}
			n.copies[shard] = h
			n.fedHeld = append(n.fedHeld, shard)
			continue
		}
		gc := replication.GroupConfig{
			Shard:             shard,
			Dir:               filepath.Join(cfg.DataDir, "shards", shard),
			LocalID:           cfg.Name,
			Bootstrap:         true,
			SnapshotThreshold: cfg.Raft.SnapshotThreshold,
			TrailingLogs:      cfg.Raft.TrailingLogs,
			Observer:          n.index,
			Logger:            n.log.With("subsystem", "replication"),
			Tune:              tuneRaft,
			Key:               n.atRest.key,
		}
		if n.fed != nil {
			if err := n.fed.groupConfig(&gc); err != nil {
				n.Close()
				return nil, err
			}
		}
		g, err := replication.OpenGroup(gc)
		if err != nil {
			n.Close()
			return nil, err
		}
		n.groups[shard] = g
		n.copies[shard] = g
		if n.fed != nil {
			n.fed.groupOpened(shard, g)
		}
		n.held = append(n.held, shard)
	}
	sort.Strings(n.held)
	sort.Strings(n.fedHeld)
	if err := n.index.load(n.copies); err != nil {
		n.Close()
		return nil, err
	}
	n.log.Info("index loaded", "records", n.index.Len(), "took", n.since(t0).Round(time.Millisecond))
	if n.fed != nil {
		if err := n.startFederation(); err != nil {
			n.Close()
			return nil, err
		}
	}
	return n, nil
}

// startFederation starts what a member runs besides its groups: non-voter reconciliation, gossip,
// and the handlers for forwarded writes and remote searches.
func (n *Node) startFederation() error {
	n.fed.frames = newFrameBudget() // fed.refused is set when the federation opens
	n.fed.anchors = newAnchorer()
	if err := n.serveApply(); err != nil {
		return err
	}
	if err := n.serveSearch(); err != nil {
		return err
	}
	if err := n.serveMessages(); err != nil {
		return err
	}
	if err := n.serveLate(); err != nil {
		return err
	}
	if err := n.startGossip(); err != nil {
		return err
	}
	if err := n.startControl(); err != nil {
		return err
	}
	n.deliver = &deliverer{kick: make(chan struct{}, 1), backoff: map[string]retry{}, clock: n.clock}
	n.fed.host.P2P().Network().Notify(&network.NotifyBundle{ConnectedF: func(network.Network, network.Conn) {
		n.deliver.reset()
		n.kickDelivery()
	}})
	n.fed.wg.Add(2)
	go n.reconcile()
	go n.runDelivery()
	if n.fed.inbox != nil {
		n.fed.wg.Add(1)
		go n.runInbox()
	}
	n.fed.wg.Add(2)
	go n.runAnchors()
	go n.runLate()
	n.watchResumed()
	return nil
}

// WaitReady blocks until every held shard has a leader.
func (n *Node) WaitReady(ctx context.Context) error {
	for _, s := range n.held {
		if err := n.groups[s].WaitForLeader(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Shutdown stops accepting requests, lets running ones finish (until ctx ends), then closes
// everything.
func (n *Node) Shutdown(ctx context.Context) error {
	var err error
	if n.httpSrv != nil {
		err = n.httpSrv.Shutdown(ctx)
	}
	if cerr := n.Close(); err == nil {
		err = cerr
	}
	return err
}

// Close closes the shards, the audit log and node.db (once; later calls return the same error).
// Prefer Shutdown on a serving node.
func (n *Node) Close() error {
	n.closeOnce.Do(func() { n.closeErr = n.close() })
	return n.closeErr
}

func (n *Node) close() error {
	var errs []error
	if n.webhook != nil {
		n.webhook.stop()
	}
	if n.fed != nil {
		n.fed.close()
		// Closing the host first ends raft's in-flight dials, so the groups shut down at once.
		errs = append(errs, n.fed.host.Close())
		errs = append(errs, n.fed.closeControl())
		errs = append(errs, n.closeInbox())
	}
	for _, s := range n.held {
		errs = append(errs, n.groups[s].Close())
	}
	for _, s := range n.fedHeld {
		errs = append(errs, n.copies[s].Close())
	}
	if n.index != nil {
		n.index.close()
	}
	if n.late != nil {
		n.late.close()
	}
	if n.tokens != nil {
		errs = append(errs, n.tokens.FlushLastUse())
	}
	if n.audit != nil {
		errs = append(errs, n.audit.Close())
	}
	if n.db != nil {
		notify.Forget(n.db)
		errs = append(errs, n.db.Close())
	}
	if n.dirLock != nil {
		errs = append(errs, n.dirLock.Close())
	}
	return errors.Join(errs...)
}

// watchRevocation destroys the node's data once the control group says this node is revoked.
func (n *Node) watchRevocation(revoked <-chan struct{}) {
	select {
	case <-revoked:
	case <-n.fed.stop:
		return
	}
	n.destroyRevoked()
}

// destroyRevoked is what a revoked node does: destroy the data key, stop, remove the data. It
// runs once.
func (n *Node) destroyRevoked() {
	if !n.atRest.revoked.CompareAndSwap(false, true) {
		return
	}
	dir := n.cfg.DataDir
	n.log.Error("this node has been revoked from the federation: destroying its data key and its data, and stopping", "subsystem", "storage", "dir", dir)
	// The key first: from here on whatever is left on disk is noise, even if the rest fails.
	if err := seal.DestroyKey(dir); err != nil {
		n.log.Error("destroying the data key", "subsystem", "storage", "error", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.Shutdown(ctx); err != nil {
		n.log.Warn("stopping after revocation", "subsystem", "storage", "error", err)
	}
	if err := removeData(dir, n.now()); err != nil {
		n.log.Error("removing the data of a revoked node", "subsystem", "storage", "error", err)
	}
}
