package cli

import (
	"bytes"
	"context"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/fedarms/fedarms/config"
	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node"
	"github.com/fedarms/fedarms/node/wire"
)

func TestAuditVerifyOfflineFindsTampering(t *testing.T) {
	dir := t.TempDir()
	c := config.Default()
	c.DataDir = dir
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
