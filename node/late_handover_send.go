package node

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/transport"
)

// Sending the searches queued for hand-over (late_handover.go) to the central nodes, and setting
// up late matches in the shards a node does not hold.

// handOverOnce hands the queued searches to each central node that does not have them yet.
func (n *Node) handOverOnce() {
	fl := n.late.fed
	var queued []queuedHandover
	var expired [][]byte
	now := n.now()
	err := n.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketLateHandover)
		if b == nil {
			return nil
		}
		// A pass reads 1,000 after where the last one stopped, so searches a central node that is
		// down keeps queued never hold back the ones behind them.
		c := b.Cursor()
		k, v := c.Seek(fl.after)
		if k == nil {
			k, v = c.First()
		}
		fl.after = nil
		for ; k != nil; k, v = c.Next() {
			if len(queued) == 1000 {
				fl.after = append([]byte(nil), k...)
				break
			}
			var q queuedHandover
			plain, err := openIn(n.atRest.key, bucketLateHandover, k, v)
			if err != nil || json.Unmarshal(plain, &q) != nil || now.Sub(q.Search.At) > n.cfg.Notify.LateWindow.Duration {
				expired = append(expired, append([]byte(nil), k...))
				continue
			}
			queued = append(queued, q)
		}
		return nil
	})
	if err != nil {
		n.log.Error("reading searches to hand over", "error", err)
		return
	}
	if len(queued) == 0 && len(expired) == 0 {
		return
	}
	var centrals []transport.Entry
	for _, e := range n.fed.roster.List() {
		if e.Role == transport.RoleCentral && e.PeerID != n.fed.id.ID {
			centrals = append(centrals, e)
		}
	}
	changed := map[int]bool{}
	for _, c := range centrals {
		key := "central/" + c.Name
		if !fl.due(key, now) || fl.isSilent(c.PeerID, now) {
			continue
		}
		var idx []int
		for i := range queued {
			if !slices.Contains(queued[i].Acked, c.Name) {
				idx = append(idx, i)
			}
		}
		for len(idx) > 0 {
			chunk := idx[:min(len(idx), lateBatch)]
			idx = idx[len(chunk):]
			m := lateMessage{Kind: "handover"}
			for _, i := range chunk {
				m.Searches = append(m.Searches, queued[i].Search)
			}
			var ans lateAnswer
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			err := n.fed.call(ctx, c.PeerID, transport.ProtoLate, m, &ans)
			cancel()
			if err != nil && !refusedBy(err) {
				if strings.Contains(err.Error(), "protocols not supported") { // multistream's ErrNotSupported
					fl.silence(c.PeerID, n.now().Add(10*time.Minute))
					n.log.Info("central node does not keep searches handed over (an earlier release): skipped", "central", c.Name)
				} else {
					fl.failed(key, n.now())
				}
				break
			}
			if err != nil || len(ans.Refused) > 0 {
				n.log.Warn("a central node refused searches handed over", "central", c.Name, "refused", len(ans.Refused), "error", err)
			}
			fl.done(key)
			for _, i := range chunk {
				queued[i].Acked = append(queued[i].Acked, c.Name)
				changed[i] = true
			}
		}
	}
	n.settleHandovers(queued, changed, centrals, expired)
}

// settleHandovers writes what the central nodes acknowledged: a search every central node that
// speaks ProtoLate keeps (at least one) is done.
func (n *Node) settleHandovers(queued []queuedHandover, changed map[int]bool, centrals []transport.Entry, expired [][]byte) {
	fl := n.late.fed
	now := n.now()
	err := n.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLateHandover)
		if err != nil {
			return err
		}
		for _, k := range expired {
			if err := b.Delete(k); err != nil {
				return err
			}
		}
		for i := range changed {
			q := queued[i]
			done := len(q.Acked) > 0
			for _, c := range centrals {
				if !slices.Contains(q.Acked, c.Name) && !fl.isSilent(c.PeerID, now) {
					done = false
				}
			}
			k := handoverKey(&q.Search)
			if done {
				if err := b.Delete(k); err != nil {
					return err
				}
				continue
			}
			v, err := json.Marshal(q)
			if err != nil {
				return err
			}
			if err := b.Put(k, sealIn(n.atRest.key, bucketLateHandover, k, v)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		n.log.Error("recording searches handed over", "error", err)
	}
}

func (fl *federationLate) isSilent(p peer.ID, now time.Time) bool {
	fl.mu.Lock()
	defer fl.mu.Unlock()
	return now.Before(fl.silent[p])
}

func (fl *federationLate) silence(p peer.ID, until time.Time) {
	fl.mu.Lock()
	fl.silent[p] = until
	fl.mu.Unlock()
}

// handoversQueued is how many searches wait to be handed over.
func (n *Node) handoversQueued() int {
	count := 0
	_ = n.db.View(func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketLateHandover); b != nil {
			count = b.Stats().KeyN
		}
		return nil
	})
	return count
}

// openLateFederation sets up late matches in the shards this node does not hold: on a central
// node the window of searches handed over (read back from node.db), elsewhere the hand-over.
func (n *Node) openLateFederation() error {
	central := n.cfg.Role == "central"
	fl := newFederationLate(central, n.cfg.Notify.LateWindow.Duration, n.cfg.Notify.LateMaxSearches, n.atRest.key)
	if central {
		if err := fl.handed.load(n.db, n.now()); err != nil {
			return err
		}
	}
	n.late.fed = fl
	if !central {
		n.late.handOver = n.handOverLater
	}
	// A new connection clears the backoff: a returning link is used at once, not after the delay
	// the outage built up.
	n.fed.host.P2P().Network().Notify(&network.NotifyBundle{ConnectedF: func(network.Network, network.Conn) {
		fl.mu.Lock()
		clear(fl.next)
		fl.mu.Unlock()
		fl.wake()
	}})
	n.met.reg.MustRegister(&lateMetrics{n: n,
		searches: prometheus.NewDesc("fedarms_late_window_searches",
			"Searches other members handed over that this central node re-checks (late window), by the node they were made at.", []string{"origin"}, nil),
		queued: prometheus.NewDesc("fedarms_late_handovers_queued",
			"Searches made here waiting to be handed to the central nodes for their late window.", nil, nil)})
	return nil
}

// lateMetrics reports the late window's searches handed over.
type lateMetrics struct {
	n                *Node
	searches, queued *prometheus.Desc
}

// Describe implements prometheus.Collector.
func (m *lateMetrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.searches
	ch <- m.queued
}

// Collect implements prometheus.Collector.
func (m *lateMetrics) Collect(ch chan<- prometheus.Metric) {
	fl := m.n.late.fed
	if fl.handed != nil {
		for origin, c := range fl.handed.counts() {
			ch <- prometheus.MustNewConstMetric(m.searches, prometheus.GaugeValue, float64(c), origin)
		}
		return
	}
	ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(m.n.handoversQueued()))
}
