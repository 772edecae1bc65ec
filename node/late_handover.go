package node

import (
	"encoding/binary"
	"encoding/json"
	"slices"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// A node that does not hold every shard hands each search it remembers to the central nodes, for
// the shards it did not hold. The hand-over is durable here (bucketLateHandover) until every
// central node that speaks ProtoLate has it, so an edge cut from the federation for a day hands
// its searches over when the link returns; a search past the window is dropped instead. A central
// node of an earlier release (the protocol is not supported) is skipped for 10 minutes and not
// waited for.

// The late window's buckets hold searches and hits: sealed at rest like node/notify's.
func init() {
	sealedNodeBuckets = append(sealedNodeBuckets, bucketLateOut, bucketLateHandover, bucketLateWindow)
}

// bucketLateHandover holds the searches to hand over: key the search's time (big-endian
// nanoseconds) and id, value a queuedHandover as JSON.
var bucketLateHandover = []byte("late_handover")

// queuedHandover is a search waiting for central nodes to keep it.
type queuedHandover struct {
	Search lateHandover `json:"search"`
	// Acked are the central nodes that keep it (or refused it for good).
	Acked []string `json:"acked,omitempty"`
}

// bucketLateHandoverMeta holds "through": the time of the newest search written to the queue. The
// queue is written a moment after the search (by the window's worker), so a search after it when
// the node starts may have been lost with a crash: it is queued again from the window, which the
// audit log rebuilt (requeueSince).
var bucketLateHandoverMeta = []byte("late_handover_meta")

func handoverKey(h *lateHandover) []byte {
	k := make([]byte, 8, 8+len(h.SearchID))
	binary.BigEndian.PutUint64(k, uint64(h.At.UnixNano()))
	return append(k, h.SearchID...)
}

// handOverLater queues a remembered search for the central nodes (the late window's worker calls
// it). It never blocks the worker: past 4096 waiting, a search is logged and kept locally only.
func (n *Node) handOverLater(s rememberedSearch, found []string) {
	fl := n.late.fed
	if fl == nil || len(s.Uncovered) == 0 || strings.ContainsAny(s.Req.Serial, "?*") {
		return
	}
	if len(found) > n.cfg.Limits.MaxSearchLimit {
		found = found[:n.cfg.Limits.MaxSearchLimit]
	}
	h := lateHandover{SearchID: s.ID, At: s.At, Agency: s.Agency, OnBehalfOf: s.OnBehalfOf, Origin: n.cfg.Name,
		Shards: s.Uncovered, Found: found, Request: s.Req}
	h.Request.OnBehalfOf = s.OnBehalfOf
	select {
	case fl.queue <- h:
	default:
		n.log.Warn("late hand-over queue full: the search is re-checked in the shards held here only", "search", s.ID)
	}
}

// runLate writes queued hand-overs, hands them to the central nodes and moves the late hits made
// here, every second and when woken.
func (n *Node) runLate() {
	defer n.fed.wg.Done()
	fl := n.late.fed
	t := n.clock.NewTicker(time.Second)
	defer t.Stop()
	lastSweep := n.now()
	if fl.handed == nil {
		select {
		case <-n.late.loaded:
			n.requeueSince()
		case <-n.fed.stop:
			return
		}
	}
	for {
		select {
		case <-n.fed.stop:
			return
		case h := <-fl.queue:
			n.queueHandovers(h)
		case <-t.C:
		case <-fl.kick:
		}
		n.handOverOnce()
		if fl.handed != nil {
			n.lateOutOnce()
			if n.since(lastSweep) >= time.Minute {
				lastSweep = n.now()
				var keys [][]byte
				for _, k := range fl.handed.expire(lastSweep) {
					keys = append(keys, []byte(k))
				}
				if err := fl.handed.drop(n.db, keys); err != nil {
					n.log.Error("dropping expired searches of the late window", "error", err)
				}
			}
		}
	}
}

// queueHandovers writes hs and every hand-over waiting behind them in one transaction.
func (n *Node) queueHandovers(hs ...lateHandover) {
	batch := slices.Clip(hs) // appending must not write into the caller's array
	for len(batch) < 1000 {
		select {
		case more := <-n.late.fed.queue:
			batch = append(batch, more)
			continue
		default:
		}
		break
	}
	err := n.db.Update(func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketLateHandover)
		if err != nil {
			return err
		}
		through := handedThrough(tx)
		for i := range batch {
			v, err := json.Marshal(queuedHandover{Search: batch[i]})
			if err != nil {
				return err
			}
			k := handoverKey(&batch[i])
			if err := b.Put(k, sealIn(n.atRest.key, bucketLateHandover, k, v)); err != nil {
				return err
			}
			if batch[i].At.After(through) {
				through = batch[i].At
			}
		}
		meta, err := tx.CreateBucketIfNotExists(bucketLateHandoverMeta)
		if err != nil {
			return err
		}
		return meta.Put([]byte("through"), []byte(through.UTC().Format(time.RFC3339Nano)))
	})
	if err != nil {
		n.log.Error("queueing searches to hand over", "error", err)
	}
}

// handedThrough is the time of the newest search queued for hand-over (zero: none yet).
func handedThrough(tx *bolt.Tx) time.Time {
	var t time.Time
	if meta := tx.Bucket(bucketLateHandoverMeta); meta != nil {
		t, _ = time.Parse(time.RFC3339Nano, string(meta.Get([]byte("through"))))
	}
	return t
}

// requeueSince queues again the remembered searches made after the newest one queued: those a
// crash may have taken between the search and its hand-over. The shards not held are taken as they
// are now; the central nodes keep a search once, however often it is handed over.
func (n *Node) requeueSince() {
	var through time.Time
	_ = n.db.View(func(tx *bolt.Tx) error {
		through = handedThrough(tx)
		return nil
	})
	uncovered := notHeld(n.coverage())
	if len(uncovered) == 0 {
		return
	}
	var again []lateHandover
	n.late.each(func(s rememberedSearch, seen []string) {
		if !s.At.After(through) {
			return
		}
		found := slices.Clone(seen)
		slices.Sort(found)
		if len(found) > n.cfg.Limits.MaxSearchLimit {
			found = found[:n.cfg.Limits.MaxSearchLimit]
		}
		h := lateHandover{SearchID: s.ID, At: s.At, Agency: s.Agency, OnBehalfOf: s.OnBehalfOf, Origin: n.cfg.Name,
			Shards: uncovered, Found: found, Request: s.Req}
		h.Request.OnBehalfOf = s.OnBehalfOf
		again = append(again, h)
	})
	if len(again) > 0 {
		n.log.Info("searches queued again for hand-over at start (made after the newest queued)", "count", len(again))
	}
	for len(again) > 0 {
		batch := again[:min(len(again), 1000)]
		again = again[len(batch):]
		n.queueHandovers(batch...)
	}
}
