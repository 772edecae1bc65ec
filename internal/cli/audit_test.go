package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/audit"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/wire"
)

func TestAuditVerifyOfflineFindsTampering(t *testing.T) {
	dir := t.TempDir()
	c := config.Default()
	c.DataDir = dir
	// The tampering below edits the stored bytes in clear: a plain dir. (In an encrypted one, an
	// edit without the key fails to open and is reported the same; with the key it is this.)
	c.Storage.Plain = true
	n, err := node.Open(c, node.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.WaitReady(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := auth.Principal{Agency: "WCO-I2C", Roles: []string{"searcher"}, OnBehalfOf: []string{"KE-CUSTOMS"}}
	for _, s := range []string{"AB123", "CD456", "EF789"} {
		if _, err := n.Search(context.Background(), p, wire.SearchRequest{Serial: s, OnBehalfOf: "KE-CUSTOMS"}); err != nil {
			t.Fatal(err)
		}
	}
	n.Close()

	run := func() (int, string) {
		var out, errb bytes.Buffer
		code := Run(context.Background(), []string{"audit", "verify", "--data", dir}, nil, &out, &errb)
		return code, out.String() + errb.String()
	}
	if code, out := run(); code != 0 || !strings.Contains(out, "intact") {
		t.Fatalf("untouched log: exit %d\n%s", code, out)
	}
	// Change who searched in the second entry, as someone covering their tracks would.
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket([]byte("audit"))
		key := binary.BigEndian.AppendUint64(nil, 2)
		v := append([]byte(nil), b.Get(key)...)
		return b.Put(key, bytes.Replace(v, []byte("KE-CUSTOMS"), []byte("XX-CUSTOMS"), 1))
	})
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	code, out := run()
	if code != exitFailure || !strings.Contains(out, "seq 2") {
		t.Fatalf("tampered log: exit %d\n%s", code, out)
	}
}

// sealedChain is a stopped node's audit buckets read and written as someone with root on it
// would, with the hash rule of internal/audit's doc: SHA-256 of the previous hash and the entry
// with its hash emptied.
type sealedChain struct{ db *bolt.DB }

func openChain(t *testing.T, dir string) sealedChain {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, "node.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return sealedChain{db}
}

var hashMember = regexp.MustCompile(`"hash":"[0-9a-f]{64}"}$`)
var prevMember = regexp.MustCompile(`"prev_hash":"[0-9a-f]*"`)

// head is the recorded head, as the node would have anchored it.
func (c sealedChain) head(t *testing.T) audit.Anchor {
	t.Helper()
	var a audit.Anchor
	if err := c.db.View(func(tx *bolt.Tx) error {
		return json.Unmarshal(tx.Bucket([]byte("audit_meta")).Get([]byte("head")), &a)
	}); err != nil {
		t.Fatal(err)
	}
	return a
}

// reseal edits entry from, then seals it and every later entry again and moves the head; with
// cut it first drops the entries after from and moves the head onto from.
func (c sealedChain) reseal(t *testing.T, from uint64, edit func([]byte) []byte, cut bool) {
	t.Helper()
	err := c.db.Update(func(tx *bolt.Tx) error {
		b, meta := tx.Bucket([]byte("audit")), tx.Bucket([]byte("audit_meta"))
		var prev string
		if from > 1 {
			var e audit.Entry
			if err := json.Unmarshal(b.Get(binary.BigEndian.AppendUint64(nil, from-1)), &e); err != nil {
				return err
			}
			prev = e.Hash
		}
		var seq uint64
		for k, v := b.Cursor().Seek(binary.BigEndian.AppendUint64(nil, from)); k != nil; k, v = b.Cursor().Seek(binary.BigEndian.AppendUint64(nil, seq+1)) {
			seq = binary.BigEndian.Uint64(k)
			if cut && seq > from {
				if err := b.Delete(k); err != nil {
					return err
				}
				continue
			}
			val := append([]byte(nil), v...)
			if seq == from {
				val = edit(val)
			}
			val = prevMember.ReplaceAll(val, []byte(`"prev_hash":"`+prev+`"`))
			canon := hashMember.ReplaceAll(val, []byte(`"hash":""}`))
			sum := sha256.Sum256(append([]byte(prev), canon...))
			prev = hex.EncodeToString(sum[:])
			if err := b.Put(k, hashMember.ReplaceAll(val, []byte(`"hash":"`+prev+`"}`))); err != nil {
				return err
			}
		}
		last := seq
		if cut {
			last = from
		}
		h, _ := json.Marshal(map[string]any{"seq": last, "hash": prev})
		return meta.Put([]byte("head"), h)
	})
	if err != nil {
		t.Fatal(err)
	}
	c.db.Close()
}

// TestAuditVerifyOfflineAgainstAnchors: cutting the last entries and moving the head, or changing an
// old entry and sealing the rest again, passes `audit verify --data` alone, and fails it with the
// node's anchored heads (--anchors), naming the anchored seq and its time.
func TestAuditVerifyOfflineAgainstAnchors(t *testing.T) {
	for _, attack := range []struct {
		name, kind string
		tamper     func(t *testing.T, c sealedChain)
	}{
		{"cut the last entries and move the head", "anchor_cut", func(t *testing.T, c sealedChain) {
			c.reseal(t, 3, func(v []byte) []byte { return v }, true)
		}},
		{"change an old entry and reseal the rest", "anchor_mismatch", func(t *testing.T, c sealedChain) {
			c.reseal(t, 2, func(v []byte) []byte { return bytes.Replace(v, []byte("KE-CUSTOMS"), []byte("XX-CUSTOMS"), 1) }, false)
		}},
	} {
		t.Run(attack.name, func(t *testing.T) {
			dir := t.TempDir()
			c := config.Default()
			c.DataDir = dir
			c.Storage.Plain = true // the tampering edits the stored bytes in clear
			n, err := node.Open(c, node.Options{})
			if err != nil {
				t.Fatal(err)
			}
			p := auth.Principal{Agency: "WCO-I2C", Roles: []string{"searcher"}, OnBehalfOf: []string{"KE-CUSTOMS"}}
			for _, s := range []string{"AB123", "CD456", "EF789", "GH012", "IJ345"} {
				if _, err := n.Search(context.Background(), p, wire.SearchRequest{Serial: s, OnBehalfOf: "KE-CUSTOMS"}); err != nil {
					t.Fatal(err)
				}
			}
			n.Close()
			chain := openChain(t, dir)
			head := chain.head(t)
			if head.Seq < 5 {
				t.Fatalf("head %+v, want at least 5 entries", head)
			}
			head.Time = time.Date(2026, 12, 1, 9, 30, 0, 0, time.UTC)
			anchors := filepath.Join(t.TempDir(), "anchors.json")
			b, _ := json.Marshal(map[string]any{"node": "edge-1", "anchors": []audit.Anchor{head}})
			if err := os.WriteFile(anchors, b, 0o600); err != nil {
				t.Fatal(err)
			}
			attack.tamper(t, chain)

			run := func(args ...string) (int, string) {
				var out, errb bytes.Buffer
				code := Run(context.Background(), append([]string{"audit", "verify", "--data", dir}, args...), nil, &out, &errb)
				return code, out.String() + errb.String()
			}
			if code, out := run(); code != 0 {
				t.Fatalf("the chain alone should pass after the attack (as before anchors): exit %d\n%s", code, out)
			}
			code, out := run("--anchors", anchors)
			want := fmt.Sprintf("PROBLEM seq %d: %s: anchored at 2026-12-01T09:30:00Z", head.Seq, attack.kind)
			if code != exitFailure || !strings.Contains(out, want) {
				t.Fatalf("against the anchor: exit %d, want %d and %q\n%s", code, exitFailure, want, out)
			}
		})
	}
}
