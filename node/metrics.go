package node

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/transport"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the node's Prometheus metrics, on a registry of its own (no global state, so several
// nodes can run in one test process).
type metrics struct {
	reg       *prometheus.Registry
	httpReqs  *prometheus.CounterVec
	httpDur   *prometheus.HistogramVec
	searchDur *prometheus.HistogramVec
	hits      prometheus.Counter
	delivery  prometheus.Histogram
	pending   *prometheus.Desc
	overdue   *prometheus.Desc
	imported  *prometheus.CounterVec
	refusals  *prometheus.CounterVec
	// readRefusals counts searches refused for reading too much or carrying too little (readlimit.go).
	readRefusals *prometheus.CounterVec
	shardApply   *prometheus.Desc
	shardRecs    *prometheus.Desc
	shardAge     *prometheus.Desc
	indexRecs    *prometheus.Desc
	leader       *prometheus.Desc
	lag          *prometheus.Desc
	snapshot     *prometheus.Desc
	stale        *prometheus.Desc
	halted       *prometheus.Desc
	needs        *prometheus.Desc
	diskFree     *prometheus.Desc
	members      *prometheus.Desc
	peerConns    *prometheus.Desc
	audit        [4]*prometheus.Desc // commits, entries, folds, fold seconds
	n            *Node

	// replSent and replRecv count raft bytes on the wire by shard and peer (replicationMeter).
	replSent, replRecv *prometheus.CounterVec
	// feedRefused counts batches and copies a fed holder refused, by shard and source (feed_hold.go).
	feedRefused *prometheus.CounterVec
}

func newMetrics(n *Node) *metrics {
	m := &metrics{reg: prometheus.NewRegistry(), n: n}
	m.httpReqs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_http_requests_total",
		Help: "HTTP API requests by route and status code."}, []string{"route", "code"})
	m.httpDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fedarms_http_request_duration_seconds",
		Help: "HTTP API request latency by route.", Buckets: prometheus.ExponentialBuckets(50e-6, 2.5, 14)}, []string{"route"})
	m.searchDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "fedarms_search_duration_seconds",
		Help:    "Search latency inside the node (match, records, audit) by kind of best match.",
		Buckets: prometheus.ExponentialBuckets(10e-6, 2.5, 14)}, []string{"kind"})
	m.hits = prometheus.NewCounter(prometheus.CounterOpts{Name: "fedarms_hits_total", Help: "Search results at or above the hit threshold."})
	m.delivery = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "fedarms_notification_delivery_seconds",
		Help: "Time from a hit to a recipient's receipt at the origin.", Buckets: prometheus.ExponentialBuckets(0.01, 3, 12)})
	m.pending = prometheus.NewDesc("fedarms_notifications_pending", "Hits made here still waiting for a recipient's receipt.", nil, nil)
	m.overdue = prometheus.NewDesc("fedarms_hits_overdue", "Hits stored here whose NCB decision is past its deadline.", nil, nil)
	m.imported = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_import_records_total",
		Help: "Records received by bulk import, by result."}, []string{"result"})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_peer_refusals_total",
		Help: "Requests from federation members refused for breaking the rules of their role, by protocol and reason."}, []string{"protocol", "reason"})
	m.readRefusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_read_refusals_total",
		Help: "Searches refused by reason: a token's read limit reached (searches_per_hour, searches_per_day, records_per_hour, records_per_day) or a query that carries too little (too_little)."}, []string{"reason"})
	m.replSent = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_replication_sent_bytes_total",
		Help: "Replication bytes (raft log entries, snapshots, answers) sent on the wire, compressed as they travel, by shard (control: the control group) and peer."}, []string{"shard", "peer"})
	m.feedRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_feed_refused_total",
		Help: "Batches or copies of a shard a fed holder refused because they were not what the voters committed (the source is dropped), by shard and source."}, []string{"shard", "peer"})
	m.replRecv = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "fedarms_replication_received_bytes_total",
		Help: "Replication bytes received on the wire, compressed as they travel, by shard (control: the control group) and peer."}, []string{"shard", "peer"})
	m.shardApply = prometheus.NewDesc("fedarms_shard_applied_index", "Last raft index applied to the shard's state on this node.", []string{"shard"}, nil)
	m.shardRecs = prometheus.NewDesc("fedarms_shard_records", "Records in the shard's state on this node.", []string{"shard"}, nil)
	m.shardAge = prometheus.NewDesc("fedarms_shard_last_contact_age_seconds", "Seconds since this node's copy of the shard last heard from its leader.", []string{"shard"}, nil)
	m.indexRecs = prometheus.NewDesc("fedarms_index_records", "Records in the node's match index.", nil, nil)
	m.lag = prometheus.NewDesc("fedarms_shard_lag_entries", "Committed entries this node knows of but has not applied yet.", []string{"shard"}, nil)
	m.snapshot = prometheus.NewDesc("fedarms_shard_last_snapshot_index", "Raft index of this node's latest snapshot of the shard (0: none).", []string{"shard"}, nil)
	m.leader = prometheus.NewDesc("fedarms_shard_has_leader", "1 when this node knows a leader for the shard, else 0.", []string{"shard"}, nil)
	m.stale = prometheus.NewDesc("fedarms_shard_stale", "1 when this node's copy of the shard is older than max_staleness, or halted.", []string{"shard"}, nil)
	m.halted = prometheus.NewDesc("fedarms_shard_halted", "1 while the shard has stopped applying entries on this node (state file cannot be written, or an entry this release cannot read); the reason is in /v1/health.", []string{"shard"}, nil)
	m.needs = prometheus.NewDesc("fedarms_shard_needs_command_format", "While the shard is halted on an entry of a command format this release does not read, that format (a release that reads it resumes the shard); else 0.", []string{"shard"}, nil)
	m.diskFree = prometheus.NewDesc("fedarms_data_dir_free_bytes", "Free bytes of the file system holding the data dir (read at most once a second).", nil, nil)
	m.members = prometheus.NewDesc("fedarms_members", "Federation members this node knows, by status.", []string{"status"}, nil)
	m.peerConns = prometheus.NewDesc("fedarms_peer_connections",
		"Other members this node is connected to right now, by kind: direct, relayed (only through a circuit relay), none.",
		[]string{"kind"}, nil)
	m.audit = [4]*prometheus.Desc{
		prometheus.NewDesc("fedarms_audit_commits_total", "Batches of audit entries made durable (journal frames or node.db transactions); entries over commits is the batch size.", nil, nil),
		prometheus.NewDesc("fedarms_audit_entries_total", "Audit entries made durable.", nil, nil),
		prometheus.NewDesc("fedarms_audit_folds_total", "node.db transactions that moved journaled audit entries.", nil, nil),
		prometheus.NewDesc("fedarms_audit_fold_seconds_total", "Time the audit writer spent folding the journal into node.db.", nil, nil),
	}
	m.reg.MustRegister(m.httpReqs, m.httpDur, m.searchDur, m.hits, m.delivery, m.imported, m.refusals, m.readRefusals, m.replSent, m.replRecv, m.feedRefused, m,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// replicationMeter is the host's transport.RaftMeter: raft groups are "shard/<shard>" and
// "control", and peers are named as the roster names them (by peer id when it does not).
type replicationMeter struct {
	m      *metrics
	roster *transport.Roster
}

// RaftCounters gives the counters of a group's stream with p.
func (r replicationMeter) RaftCounters(group string, p peer.ID) (transport.ByteCounter, transport.ByteCounter) {
	name := p.String()
	if e, ok := r.roster.Get(p); ok {
		name = e.Name
	}
	shard := strings.TrimPrefix(group, "shard/")
	return r.m.replSent.WithLabelValues(shard, name), r.m.replRecv.WithLabelValues(shard, name)
}

// Describe implements prometheus.Collector for the per-shard gauges.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.shardApply
	ch <- m.shardRecs
	ch <- m.shardAge
	ch <- m.indexRecs
	ch <- m.leader
	ch <- m.lag
	ch <- m.snapshot
	ch <- m.stale
	ch <- m.halted
	ch <- m.needs
	ch <- m.diskFree
	ch <- m.members
	ch <- m.peerConns
	ch <- m.pending
	ch <- m.overdue
	for _, d := range m.audit {
		ch <- d
	}
}

// Collect reads the shards' state when scraped.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	for _, s := range m.n.allHeld() {
		st := m.n.copies[s].Status()
		ch <- prometheus.MustNewConstMetric(m.shardApply, prometheus.GaugeValue, float64(st.AppliedIndex), s)
		ch <- prometheus.MustNewConstMetric(m.shardRecs, prometheus.GaugeValue, float64(st.Records), s)
		age := math.Inf(1) // never in contact
		if !st.LastContact.IsZero() {
			age = m.n.since(st.LastContact).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(m.shardAge, prometheus.GaugeValue, age, s)
		ch <- prometheus.MustNewConstMetric(m.leader, prometheus.GaugeValue, b2f(st.Leader != "" || st.Role == "fed" && !st.LastContact.IsZero()), s)
		ch <- prometheus.MustNewConstMetric(m.lag, prometheus.GaugeValue, float64(st.CommitIndex-min(st.CommitIndex, st.AppliedIndex)), s)
		ch <- prometheus.MustNewConstMetric(m.snapshot, prometheus.GaugeValue, float64(st.LastSnapshotIndex), s)
		ch <- prometheus.MustNewConstMetric(m.stale, prometheus.GaugeValue, b2f(m.n.stale(st.LastContact, st.Halt != nil)), s)
		ch <- prometheus.MustNewConstMetric(m.halted, prometheus.GaugeValue, b2f(st.Halt != nil), s)
		var needs float64
		if st.Halt != nil {
			needs = float64(st.Halt.NeedsCommandFormat)
		}
		ch <- prometheus.MustNewConstMetric(m.needs, prometheus.GaugeValue, needs, s)
	}
	if free, err := m.n.disk.freeBytes(m.n.cfg.DataDir); err == nil {
		ch <- prometheus.MustNewConstMetric(m.diskFree, prometheus.GaugeValue, float64(free))
	}
	counts := map[string]int{"alive": 0, "suspect": 0, "dead": 0, "left": 0}
	conns := map[string]int{ConnDirect: 0, ConnRelayed: 0, ConnNone: 0}
	for _, mb := range m.n.Members() {
		counts[mb.Status]++
		if mb.Conn != "" {
			conns[mb.Conn]++
		}
	}
	for status, c := range counts {
		ch <- prometheus.MustNewConstMetric(m.members, prometheus.GaugeValue, float64(c), status)
	}
	if m.n.fed != nil {
		for kind, c := range conns {
			ch <- prometheus.MustNewConstMetric(m.peerConns, prometheus.GaugeValue, float64(c), kind)
		}
	}
	ch <- prometheus.MustNewConstMetric(m.indexRecs, prometheus.GaugeValue, float64(m.n.index.Len()))
	outbox, overdue := m.n.hitCounts()
	ch <- prometheus.MustNewConstMetric(m.pending, prometheus.GaugeValue, float64(outbox))
	ch <- prometheus.MustNewConstMetric(m.overdue, prometheus.GaugeValue, float64(overdue))
	st := m.n.audit.Stats()
	for i, v := range [...]float64{float64(st.Commits), float64(st.Entries), float64(st.Folds), st.FoldTime.Seconds()} {
		ch <- prometheus.MustNewConstMetric(m.audit[i], prometheus.CounterValue, v)
	}
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

func (m *metrics) observeHTTP(route string, code int, d time.Duration) {
	if code == 0 {
		code = 200
	}
	m.httpReqs.WithLabelValues(route, strconv.Itoa(code)).Inc()
	m.httpDur.WithLabelValues(route).Observe(d.Seconds())
}

func (m *metrics) observeSearch(found []wire.SearchResult, d time.Duration) {
	kind := "none"
	if len(found) > 0 {
		kind = "fuzzy"
		if found[0].Why.Serial == "exact" {
			kind = "exact"
		}
	}
	m.searchDur.WithLabelValues(kind).Observe(d.Seconds())
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
