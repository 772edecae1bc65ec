package notify

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Anchors are heads of the members' audit chains, signed by each member and kept by the GS inbox
// (an item of kind anchor) so that every central node holds them: a node's chain can then be
// checked against what it said earlier (internal/audit, "anchor"), which nobody with root on the
// node can rewrite. Per node the store keeps the last anchorsRecent anchors, then one per hour for
// anchorsHourly hours, then one per day for anchorsDaily days: one anchor vouches for every entry
// before it, and the older tiers catch a chain rewritten long ago whose rewritten head has been
// anchored since. Thinning goes by the anchors' own times, not a clock, so every central node
// keeps the same ones.

var (
	bucketAnchors     = []byte("anchors")      // node + 0 + tier + u64 seq -> Anchor (JSON)
	bucketAnchorCount = []byte("anchor_count") // node + 0 + tier -> u64 anchors held in that tier
)

// Tiers of kept anchors, from the newest: their key byte, the period each keeps one anchor of (0:
// every one) and how many each holds.
var anchorTiers = []struct {
	key    byte
	period time.Duration
	max    uint64
}{
	{'r', 0, anchorsRecent},
	{'h', time.Hour, anchorsHourly},
	{'d', 24 * time.Hour, anchorsDaily},
}

const (
	anchorsRecent = 1000     // ~17 hours at one a minute
	anchorsHourly = 24 * 30  // then a month of hourly ones
	anchorsDaily  = 365 * 10 // then ten years of daily ones
	InboxAnchor   = "anchor" // the inbox item kind of an anchor
	domainAnchor  = "fedarms/msg/audit-anchor/v1\x00"
	anchorHashLen = 64 // hex SHA-256, as internal/audit chains
)

// Anchor is a member's signed word that its audit chain's entry Seq had hash Hash at Time.
type Anchor struct {
	Node string     `json:"node"`
	Seq  uint64     `json:"seq"`
	Hash string     `json:"hash"`
	Time time.Time  `json:"time"`
	Sig  *Signature `json:"sig,omitempty"`
}

// Validate checks the fields a member may not leave out or inflate.
func (a *Anchor) Validate() error {
	if a.Node == "" || len(a.Node) > maxField {
		return fmt.Errorf("anchor: node must be 1 to %d bytes", maxField)
	}
	if a.Seq == 0 {
		return fmt.Errorf("anchor of %s: seq must be at least 1", a.Node)
	}
	if len(a.Hash) != anchorHashLen {
		return fmt.Errorf("anchor of %s: hash must be %d hex digits", a.Node, anchorHashLen)
	}
	if _, err := hex.DecodeString(a.Hash); err != nil || a.Hash != string(bytes.ToLower([]byte(a.Hash))) {
		return fmt.Errorf("anchor of %s: hash must be lowercase hex", a.Node)
	}
	if a.Time.IsZero() {
		return fmt.Errorf("anchor of %s: time missing", a.Node)
	}
	return nil
}

func anchorBytes(signer string, a *Anchor) *canon {
	return newCanon(domainAnchor, signer).str(a.Node).str(strconv.FormatUint(a.Seq, 10)).str(a.Hash).time(a.Time)
}

// SignAnchor signs a as its node, whose name it bears.
func SignAnchor(key Signer, a *Anchor) error {
	sig, err := sign(key, a.Node, anchorBytes(a.Node, a))
	if err != nil {
		return err
	}
	a.Sig = sig
	return nil
}

// VerifyAnchor checks that a.Sig is a's node's signature over a; pub is that node's key.
func VerifyAnchor(pub Verifier, a *Anchor) error {
	if a.Sig != nil && a.Sig.Signer != a.Node {
		return fmt.Errorf("anchor of %s signed by %s: %w", a.Node, a.Sig.Signer, ErrBadSignature)
	}
	return check(pub, a.Sig, func(s string) *canon { return anchorBytes(s, a) })
}

func anchorKey(node string, tier byte, seq uint64) []byte {
	k := append(append([]byte(node), 0, tier), make([]byte, 8)...)
	binary.BigEndian.PutUint64(k[len(k)-8:], seq)
	return k
}

func anchorPrefix(node string, tier byte) []byte { return append([]byte(node), 0, tier) }

// inboxAnchor keeps a committed anchor. The first anchor of a seq is kept: a later one with
// another hash (the chain was rewritten since) is refused, and the refusal is the evidence.
func inboxAnchor(tx *bolt.Tx, a Anchor) (InboxOutcome, error) {
	b := tx.Bucket(bucketAnchors)
	for _, t := range anchorTiers {
		v := b.Get(anchorKey(a.Node, t.key, a.Seq))
		if v == nil {
			continue
		}
		var old Anchor
		if err := json.Unmarshal(v, &old); err != nil {
			return InboxOutcome{}, fmt.Errorf("anchor of %s at %d: %w", a.Node, a.Seq, err)
		}
		if old.Hash != a.Hash {
			return InboxOutcome{Refused: fmt.Sprintf("anchor of %s at seq %d: hash %s was anchored at %s, not %s",
				a.Node, a.Seq, old.Hash, old.Time.UTC().Format(time.RFC3339), a.Hash)}, nil
		}
		return InboxOutcome{StoredAt: old.Time}, nil
	}
	return InboxOutcome{StoredAt: a.Time}, keepAnchor(tx, a, 0)
}

// keepAnchor puts a into tier i and moves what overflows it down to the next tier, one per period.
func keepAnchor(tx *bolt.Tx, a Anchor, i int) error {
	b, counts := tx.Bucket(bucketAnchors), tx.Bucket(bucketAnchorCount)
	t := anchorTiers[i]
	v, err := json.Marshal(a)
	if err != nil {
		return err
	}
	if err := b.Put(anchorKey(a.Node, t.key, a.Seq), v); err != nil {
		return err
	}
	ck := anchorPrefix(a.Node, t.key)
	c := readAnchorCount(counts.Get(ck))
	c.n++
	c.period = anchorPeriod(a, t.period)
	for ; c.n > t.max; c.n-- {
		k, ov := b.Cursor().Seek(ck)
		if k == nil || !bytes.HasPrefix(k, ck) {
			break // the count was off: nothing more to thin
		}
		var old Anchor
		uerr := json.Unmarshal(ov, &old)
		if err := b.Delete(k); err != nil {
			return err
		}
		if uerr != nil || i+1 == len(anchorTiers) {
			continue
		}
		next := anchorTiers[i+1]
		if readAnchorCount(counts.Get(anchorPrefix(a.Node, next.key))).period == anchorPeriod(old, next.period) {
			continue // the next tier holds one of that period already
		}
		if err := keepAnchor(tx, old, i+1); err != nil {
			return err
		}
	}
	return counts.Put(ck, c.bytes())
}

// anchorCount is what bucket anchor_count holds per node and tier: how many anchors the tier
// holds and the period (start, in Unix seconds) of the newest one put in it.
type anchorCount struct{ n, period uint64 }

func readAnchorCount(v []byte) anchorCount {
	if len(v) != 16 {
		return anchorCount{}
	}
	return anchorCount{n: binary.BigEndian.Uint64(v), period: binary.BigEndian.Uint64(v[8:])}
}

func (c anchorCount) bytes() []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, c.n), c.period)
}

func anchorPeriod(a Anchor, period time.Duration) uint64 {
	if period <= 0 {
		return uint64(a.Time.Unix())
	}
	return uint64(a.Time.UTC().Truncate(period).Unix())
}

// Anchors lists the anchors of node held here, oldest first.
func (s *Store) Anchors(node string) ([]Anchor, error) {
	var out []Anchor
	err := s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketAnchors)
		if b == nil {
			return nil
		}
		for i := len(anchorTiers) - 1; i >= 0; i-- {
			prefix := anchorPrefix(node, anchorTiers[i].key)
			c := b.Cursor()
			for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
				var a Anchor
				if err := json.Unmarshal(v, &a); err != nil {
					return fmt.Errorf("anchor %x: %w", k, err)
				}
				out = append(out, a)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read anchors of %s: %w", node, err)
	}
	return out, nil
}
