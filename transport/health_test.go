package transport

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/memberlist"
)

func TestHealthEncoding(t *testing.T) {
	many := make([]ShardHealth, 40)
	for i := range many {
		many[i] = ShardHealth{Shard: fmt.Sprintf("shard-%02d", i), Applied: 1 << 40, LagEntries: 12345, LagSeconds: 3600}
	}
	small := Health{Role: RoleEdge, Country: "KE", Version: "0.4.0", Outbox: 3, LastCentral: 1700000000,
		Shards: []ShardHealth{{Shard: "africa", Applied: 912, LagEntries: 2, LagSeconds: 1}}}
	for _, tc := range []struct {
		name          string
		in            Health
		wantTruncated bool
		wantErr       error
	}{
		{"fits", small, false, nil},
		{"too many shards", Health{Role: RoleCentral, Shards: many}, true, nil},
		{"too big even without shards", Health{Role: RoleNCB, Version: strings.Repeat("v", 600)}, false, ErrHealthTooBig},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := EncodeHealth(tc.in, memberlist.MetaMaxSize)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if len(b) > memberlist.MetaMaxSize {
				t.Fatalf("%d bytes, over memberlist's %d", len(b), memberlist.MetaMaxSize)
			}
			got, err := DecodeHealth(b)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.in
			if tc.wantTruncated {
				want.Shards, want.Truncated = nil, true
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip:\n got %+v\nwant %+v", got, want)
			}
		})
	}
	if _, err := DecodeHealth([]byte("{")); err == nil {
		t.Fatal("decoded broken metadata")
	}
	if meta := (HealthDelegate{Current: func() Health { return Health{Version: strings.Repeat("v", 600)} }}).NodeMeta(memberlist.MetaMaxSize); meta != nil {
		t.Fatal("delegate returned metadata over the limit (memberlist would panic)")
	}
}

// Health cut short for size keeps the names of the member's fed shards, so the shards' leaders
// still leave it out of their raft groups.
func TestHealthTruncatedKeepsFedShards(t *testing.T) {
	h := Health{Role: RoleEdge}
	for i := range 40 {
		h.Shards = append(h.Shards, ShardHealth{Shard: fmt.Sprintf("shard-%02d", i), Applied: 1 << 40, LagSeconds: 3600, Fed: i%20 == 3})
	}
	b, err := EncodeHealth(h, 512)
	if err != nil {
		t.Fatal(err)
	}
	var got Health
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !got.Truncated || got.Shards != nil || !slices.Equal(got.FedShards, []string{"shard-03", "shard-23"}) {
		t.Fatalf("truncated health: %+v", got)
	}
	for i := range 40 {
		h.Shards[i].Fed = true
		h.Shards[i].Shard = fmt.Sprintf("a-long-shard-name-%02d", i)
	}
	if b, err = EncodeHealth(h, 512); err != nil || len(b) > 512 {
		t.Fatalf("health with too many fed shards to name: %d bytes, %v", len(b), err)
	}
}
