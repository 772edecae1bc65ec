package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

// centralHealth is a central node's health with five shards and wide figures: applied indexes of
// ten digits (four billion entries), a day of lag, six-digit outbox.
func centralHealth() Health {
	h := Health{Role: RoleCentral, Version: "0.12.0-rc.3", Outbox: 123456, Overdue: 9999, LastCentral: 1893456000,
		At: 1893456000123}
	for _, s := range []string{"africa", "americas", "asia_south_pacific", "europe", "mena"} {
		h.Shards = append(h.Shards, ShardHealth{Shard: s, Applied: 1<<32 - 1, LagSeconds: 86400, Digest: "0123456789ab"})
	}
	return h
}

func TestSignedHealthRoundTrip(t *testing.T) {
	id := newTestIdentity(t)
	h := centralHealth()
	meta, err := EncodeSignedHealth(h, id, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("signed health of a central node with five shards: %d bytes of %d", len(meta), memberlist.MetaMaxSize)
	if len(meta) > memberlist.MetaMaxSize {
		t.Fatalf("%d bytes, over memberlist's %d", len(meta), memberlist.MetaMaxSize)
	}
	got, err := VerifyHealth(id.ID.String(), meta)
	if err != nil {
		t.Fatal(err)
	}
	if got.Truncated || len(got.Shards) != 5 || got.At != h.At || got.Outbox != h.Outbox {
		t.Fatalf("round trip: %+v", got)
	}
	// Past ten digits the shard list no longer fits: it is dropped, the rest still signed.
	for i := range h.Shards {
		h.Shards[i].Applied = 1 << 40
	}
	meta, err = EncodeSignedHealth(h, id, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := VerifyHealth(id.ID.String(), meta); err != nil || !got.Truncated || len(meta) > memberlist.MetaMaxSize {
		t.Fatalf("thirteen-digit indexes: %d bytes, %+v, %v", len(meta), got, err)
	}
	// An older release decodes the same bytes as plain JSON and ignores the signature.
	var old map[string]any
	if err := json.Unmarshal(meta, &old); err != nil || old["sg"] == nil {
		t.Fatalf("not JSON with an sg key: %v", err)
	}
	if plain, err := DecodeHealth(meta); err != nil || plain.Outbox != h.Outbox {
		t.Fatalf("DecodeHealth: %+v %v", plain, err)
	}
}

func TestSignedHealthTruncatesToFit(t *testing.T) {
	id := newTestIdentity(t)
	h := centralHealth()
	for i := range 10 {
		h.Shards = append(h.Shards, ShardHealth{Shard: fmt.Sprintf("shard-%02d", i), Applied: 1 << 40})
	}
	meta, err := EncodeSignedHealth(h, id, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifyHealth(id.ID.String(), meta)
	if err != nil || !got.Truncated || got.Shards != nil || len(meta) > memberlist.MetaMaxSize {
		t.Fatalf("%d bytes, %+v, %v", len(meta), got, err)
	}
	if meta := (HealthDelegate{Identity: id, Current: func() Health { return Health{Version: strings.Repeat("v", 500)} }}).NodeMeta(memberlist.MetaMaxSize); meta != nil {
		t.Fatal("delegate returned metadata over the limit (memberlist would panic)")
	}
}

func TestForgedHealthRefused(t *testing.T) {
	victim, attacker := newTestIdentity(t), newTestIdentity(t)
	h := centralHealth()
	signed, err := EncodeSignedHealth(h, victim, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	byAttacker, err := EncodeSignedHealth(Health{Role: RoleCentral, Outbox: 4242}, attacker, memberlist.MetaMaxSize)
	if err != nil {
		t.Fatal(err)
	}
	tampered := bytes.Replace(signed, []byte(`"o":123456`), []byte(`"o":123457`), 1)
	unsigned, _ := EncodeHealth(h, memberlist.MetaMaxSize)
	for _, c := range []struct {
		name string
		meta []byte
		want error
	}{
		{"signed by another member", byAttacker, ErrHealthForged},
		{"tampered", tampered, ErrHealthForged},
		{"signature not last", append(signed[:len(signed)-1:len(signed)-1], `,"x":1}`...), ErrHealthForged},
		{"signature cut", append(signed[:len(signed)-10:len(signed)-10], `"}`...), ErrHealthForged},
		{"unsigned", unsigned, ErrHealthUnsigned},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := VerifyHealth(victim.ID.String(), c.meta); !errors.Is(err, c.want) {
				t.Fatalf("err %v, want %v", err, c.want)
			}
		})
	}
	if _, err := VerifyHealth("not-a-peer-id", signed); !errors.Is(err, ErrHealthForged) {
		t.Fatalf("a name that is no peer id: %v", err)
	}

	// The guard lets an older release's unsigned health through, until the member signs.
	var refused []string
	g := &HealthGuard{Refused: func(name string, err error) { refused = append(refused, name) }}
	name := victim.ID.String()
	alive := func(meta []byte) error { return g.NotifyAlive(&memberlist.Node{Name: name, Meta: meta}) }
	if err := alive(unsigned); err != nil {
		t.Fatalf("unsigned health of an older release: %v", err)
	}
	if err := alive(nil); err != nil {
		t.Fatalf("no health at all: %v", err)
	}
	if err := alive(byAttacker); !errors.Is(err, ErrHealthForged) {
		t.Fatalf("forged: %v", err)
	}
	if err := alive(signed); err != nil {
		t.Fatal(err)
	}
	if err := alive(unsigned); !errors.Is(err, ErrHealthForged) {
		t.Fatalf("unsigned after signed: %v", err)
	}
	if len(refused) != 2 || refused[0] != name {
		t.Fatalf("refusals reported: %v", refused)
	}
}
