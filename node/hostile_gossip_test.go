package node

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/internal/record"
	"github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/node/notify"
	"github.com/fedarms/fedarms/transport"
)

// Attacks on the node-to-node frames, on health gossip and on remote search answers, by the
// admitted edge edge-cdg (see hostile_test.go).

// TestHostileFrameAnnouncesHugeSize: the attacker announces a 64 MiB frame on each request/response
// protocol and sends a few bytes; the target refuses it at once as frame_too_big without
// allocating what was announced. Then the attacker answers a call with such a frame.
func TestHostileFrameAnnouncesHugeSize(t *testing.T) {
	h := startHostileFed(t)
	before := h.state(t)
	lyon1 := h.member(t, "lyon-1")
	for _, proto := range []string{transport.ProtoApply, transport.ProtoMessage, transport.ProtoSearch, transport.ProtoControl} {
		t.Run(proto, func(t *testing.T) {
			counted := refusalCount(lyon1, proto, "frame_too_big")
			var b []byte
			var err error
			t0 := time.Now()
			alloc := testutil.Allocated(func() {
				b, err = h.rawStream(t, "lyon-1", proto, append(rawFrameHeader(64<<20), `{"kind":"hit"`...))
			})
			took := time.Since(t0)
			t.Logf("%s: answered in %v, %d bytes allocated meanwhile, answer %q, err %v", proto, took.Round(time.Millisecond), alloc, b, err)
			if alloc > 24<<20 {
				t.Errorf("%d MiB allocated while the target read a frame announcing 64 MiB", alloc>>20)
			}
			if took > 5*time.Second {
				t.Errorf("the refusal took %v", took)
			}
			var ans rpcAnswer
			if err := readFrame(bufio.NewReader(bytes.NewReader(b)), &ans); err != nil || ans.Error == nil || ans.Status != 400 || ans.Error.Code != "frame_too_big" {
				t.Errorf("answer %+v (%v), want a 400 frame_too_big", ans, err)
			}
			if got := refusalCount(lyon1, proto, "frame_too_big"); got <= counted {
				t.Errorf("fedarms_peer_refusals_total{%s,frame_too_big} = %v, want more than %v", proto, got, counted)
			}
			h.assertAudited(t, lyon1, "edge-cdg", "", "frame_too_big")
		})
	}
	t.Run("announced within the limit, never sent", func(t *testing.T) {
		// Four frames just under the apply limit (64 MiB in all): the target reads what arrives
		// and allocates no more.
		var answers [4][]byte
		alloc := testutil.Allocated(func() {
			var wg sync.WaitGroup
			for i := range answers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					answers[i], _ = h.rawStream(t, "lyon-1", transport.ProtoApply, append(rawFrameHeader(16<<20-1), `{"shard":`...))
				}()
			}
			wg.Wait()
		})
		t.Logf("answered %q, %d bytes allocated meanwhile", answers[0], alloc)
		if alloc > 24<<20 {
			t.Errorf("%d MiB allocated for four frames announcing 16 MiB each of which 9 bytes came", alloc>>20)
		}
	})
	t.Run("answer", func(t *testing.T) {
		// The attacker answers remote searches with a 64 MiB length prefix and then stalls: the
		// caller refuses the answer at its prefix instead of waiting for it.
		hold := make(chan struct{})
		defer close(hold)
		if err := h.attacker.fed.host.Handle(transport.ProtoSearch, func(s network.Stream) {
			defer s.Close()
			_, _ = s.Write(append(rawFrameHeader(64<<20), `{"body":`...))
			select {
			case <-hold:
			case <-time.After(20 * time.Second):
			}
		}); err != nil {
			t.Fatal(err)
		}
		defer h.attacker.serveSearch()
		counted := refusalCount(lyon1, transport.ProtoSearch, "frame_too_big")
		var err error
		t0 := time.Now()
		alloc := testutil.Allocated(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			var ans remoteSearchAnswer
			err = lyon1.fed.call(ctx, h.attacker.fed.id.ID, transport.ProtoSearch, remoteSearchRequest{GetID: "FR-000001"}, &ans)
		})
		took := time.Since(t0)
		t.Logf("call: %v after %v, %d bytes allocated meanwhile", err, took.Round(time.Millisecond), alloc)
		if err == nil || took > 5*time.Second || alloc > 24<<20 {
			t.Errorf("a hostile answer announcing 64 MiB: err %v after %v, %d MiB allocated", err, took, alloc>>20)
		}
		if got := refusalCount(lyon1, transport.ProtoSearch, "frame_too_big"); got <= counted {
			t.Errorf("the oversized answer was not recorded as a refusal")
		}
	})
	h.assertUnchanged(t, before)
}

// memberlist's message types (its net.go).
const (
	gossipAliveMsg = 4
	gossipDeadMsg  = 5
)

// gossipPacket is a memberlist message: its type, then its fields as a msgpack map keyed by the
// Go field names of memberlist's message struct (which is how memberlist encodes them). Each
// value is a string, a []byte, a uint32 or a uint16.
func gossipPacket(kind byte, fields ...any) []byte {
	b := []byte{kind, 0x80 | byte(len(fields)/2)}
	str := func(s string) {
		if len(s) < 32 {
			b = append(b, 0xa0|byte(len(s)))
		} else {
			b = append(b, 0xd9, byte(len(s)))
		}
		b = append(b, s...)
	}
	for i := 0; i < len(fields); i += 2 {
		str(fields[i].(string))
		switch v := fields[i+1].(type) {
		case string:
			str(v)
		case []byte:
			b = append(b, 0xc5)
			b = binary.BigEndian.AppendUint16(b, uint16(len(v)))
			b = append(b, v...)
		case uint32:
			b = binary.BigEndian.AppendUint32(append(b, 0xce), v)
		case uint16:
			b = binary.BigEndian.AppendUint16(append(b, 0xcd), v)
		}
	}
	return b
}

// forgeGossip writes memberlist packets from the attacker straight to target's gossip packet
// stream, as memberlist's own sender frames them.
func (h *hostileFed) forgeGossip(t *testing.T, target string, packets ...[]byte) {
	t.Helper()
	var payload []byte
	for _, p := range packets {
		payload = binary.AppendUvarint(payload, uint64(len(p)))
		payload = append(payload, p...)
	}
	if _, err := h.rawStream(t, target, transport.ProtoGossipPacket, payload); err != nil {
		t.Logf("gossip to %s: %v", target, err)
	}
}

// forgedAlive is an alive message for victim carrying meta, with an incarnation above any the
// victim reached on its own.
func forgedAlive(victim peer.ID, inc uint32, meta []byte) []byte {
	ip, port := transport.GossipAddr(victim)
	return gossipPacket(gossipAliveMsg, "Incarnation", inc, "Node", victim.String(), "Addr", []byte(ip), "Port", uint16(port),
		"Meta", meta, "Vsn", []byte{1, 5, 2, 0, 0, 0})
}

func forgedDead(victim, from peer.ID, inc uint32) []byte {
	return gossipPacket(gossipDeadMsg, "Incarnation", inc, "Node", victim.String(), "From", from.String())
}

// TestHostileGossip: the attacker gossips health for lyon-2 that lyon-2 never published, and
// declares lyon-2 dead, to lyon-1. lyon-1 must keep showing lyon-2's own health and status.
func TestHostileGossip(t *testing.T) {
	h := startHostileFed(t)
	lyon1, lyon2 := h.member(t, "lyon-1"), h.member(t, "lyon-2")
	t.Run("forged health for another member", func(t *testing.T) {
		forged := transport.Health{Role: transport.RoleEdge, Country: "FR", Version: "forged", Outbox: 4242,
			At: time.Now().Add(time.Hour).UnixMilli()}
		unsigned, _ := json.Marshal(forged)
		// Signed too, by the attacker's own key: a valid signature, of the wrong member.
		signedByAttacker, err := transport.EncodeSignedHealth(forged, h.attacker.fed.id, 512)
		if err != nil {
			t.Fatal(err)
		}
		var believed []string
		deadline := time.Now().Add(4 * time.Second)
		for i := uint32(0); time.Now().Before(deadline); i++ {
			meta := unsigned
			if i%2 == 1 {
				meta = signedByAttacker
			}
			h.forgeGossip(t, "lyon-1", forgedAlive(lyon2.fed.id.ID, 1<<30+i, meta))
			for range 5 {
				if m := memberOf(lyon1, "lyon-2"); m.Version == "forged" || m.Outbox == 4242 || m.Role != "central" {
					believed = append(believed, m.Status+" version="+m.Version)
				}
				time.Sleep(40 * time.Millisecond)
			}
		}
		if len(believed) > 0 {
			t.Errorf("lyon-1 showed the forged health of lyon-2 %d times: %v", len(believed), believed[:min(3, len(believed))])
		}
		if m := memberOf(lyon1, "lyon-2"); m.Version != Version || m.Status != "alive" || len(m.Shards) != 5 {
			t.Errorf("lyon-1 shows lyon-2 as %+v", m)
		}
		if got := refusalCount(lyon1, transport.ProtoGossipPacket, "forged_health"); got == 0 {
			t.Errorf("no forged_health refusal counted at lyon-1")
		}
		h.assertAudited(t, lyon1, "", "", "forged_health")
	})
	t.Run("replayed older health", func(t *testing.T) {
		// The attacker kept health lyon-2 really published and replays it once lyon-2 has moved on.
		old := transport.HealthDelegate{Current: lyon2.gossipHealth, Identity: lyon2.fed.id}.NodeMeta(512)
		oldHealth, err := transport.VerifyHealth(lyon2.fed.id.ID.String(), old)
		if err != nil {
			t.Fatal(err)
		}
		latestAt := func() int64 { return lyon1.fed.gossip.snapshot()[lyon2.fed.id.ID.String()].health.At }
		testutil.WaitFor(t, 10*time.Second, "fresher health from lyon-2", func() bool { return latestAt() > oldHealth.At })
		counted := refusalCount(lyon1, transport.ProtoGossipPacket, "stale_health")
		for i := range uint32(5) {
			h.forgeGossip(t, "lyon-1", forgedAlive(lyon2.fed.id.ID, 1<<30+1<<20+i, old))
			time.Sleep(100 * time.Millisecond)
			if at := latestAt(); at <= oldHealth.At {
				t.Fatalf("lyon-1 went back to lyon-2's health of %d (replayed)", at)
			}
		}
		if refusalCount(lyon1, transport.ProtoGossipPacket, "stale_health") <= counted {
			t.Errorf("no stale_health refusal counted")
		}
	})
	t.Run("dead for a live member", func(t *testing.T) {
		var shown []string
		deadline := time.Now().Add(4 * time.Second)
		for i := uint32(0); time.Now().Before(deadline); i++ {
			h.forgeGossip(t, "lyon-1", forgedDead(lyon2.fed.id.ID, h.attacker.fed.id.ID, 1<<31+i),
				forgedDead(lyon2.fed.id.ID, lyon2.fed.id.ID, 1<<31+i))
			for range 5 {
				if st := memberStatusOf(lyon1, "lyon-2"); st != "alive" {
					shown = append(shown, st)
				}
				time.Sleep(40 * time.Millisecond)
			}
		}
		if len(shown) > 0 {
			t.Errorf("lyon-1 showed the live lyon-2 as %v (%d times) on the attacker's word", shown[0], len(shown))
		}
	})
}

// maliciousSearch replaces the attacker's remote search handler with one that answers what
// answer returns.
func (h *hostileFed) maliciousSearch(t *testing.T, answer func(req remoteSearchRequest) remoteSearchAnswer) *atomic.Int32 {
	t.Helper()
	var asked atomic.Int32
	err := h.attacker.fed.host.Handle(transport.ProtoSearch, func(s network.Stream) {
		defer s.Close()
		var req remoteSearchRequest
		if err := readFrame(bufio.NewReader(s), &req); err != nil {
			s.Reset()
			return
		}
		asked.Add(1)
		body, _ := json.Marshal(answer(req))
		_ = writeFrame(s, rpcAnswer{Body: body})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = h.attacker.serveSearch() })
	return &asked
}

// searchAtNBO searches at edge-nbo as a Kenyan customs officer and returns the results and how
// many hits edge-nbo holds afterwards.
func (h *hostileFed) searchAtNBO(t *testing.T, serial string) ([]searchResult, int) {
	t.Helper()
	nbo := h.member(t, "edge-nbo")
	resp, err := nbo.Search(context.Background(), auth.Principal{Agency: "KE-CUSTOMS", Country: "KE", Roles: []string{"searcher"}},
		SearchRequest{Serial: serial})
	if err != nil {
		t.Fatalf("search at edge-nbo: %v", err)
	}
	hits, err := nbo.hits.List(func(*notify.Hit) bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	return resp.Results, len(hits)
}

// TestHostileRemoteSearch: edge-nbo (KE, africa and mena) asks edge-cdg for europe, and the
// attacker answers with injected records. No hit may come of them, and the refusal is recorded.
func TestHostileRemoteSearch(t *testing.T) {
	h := startHostileFed(t)
	before := h.state(t)
	nbo := h.member(t, "edge-nbo")
	fr8, ok := h.member(t, "lyon-1").getRecord("FR-000008")
	if !ok {
		t.Fatal("no FR-000008")
	}
	evil := func(id, serial, country string) *record.Record {
		r := frRecord(id, serial)
		r.RecordingCountry = country
		return &r
	}
	cases := []struct {
		name, serial string
		inject       searchResult
	}{
		{"record of another shard", "ZZEVIL0001",
			searchResult{ID: "KE-EVIL-1", Score: 1, Hit: true, Record: evil("KE-EVIL-1", "ZZEVIL0001", "KE")}},
		{"record that does not match the query", "ZZNOMATCH42",
			searchResult{ID: fr8.ID, Score: 1, Hit: true, Record: &fr8}},
		{"invalid record", "ZZEVIL0003",
			searchResult{ID: "FR EVIL 3", Score: 1, Hit: true, Record: evil("FR EVIL 3", "ZZEVIL0003", "FR")}},
		{"result without its record", "ZZEVIL0004", searchResult{ID: "FR-EVIL-4", Score: 1, Hit: true}},
	}
	// Only the attacker is left to ask for europe: edge-nbo is cut from the central nodes and
	// ncb-fr (which hold europe too).
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr"} {
		nbo.fed.faults.Cut(nbo.fed.id.ID, h.member(t, name).fed.id.ID)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			asked := h.maliciousSearch(t, func(req remoteSearchRequest) remoteSearchAnswer {
				return remoteSearchAnswer{Results: []searchResult{c.inject},
					Coverage: []ShardCoverage{{Shard: "europe", Source: "local", AppliedIndex: 1 << 40}}}
			})
			counted := refusalCount(nbo, transport.ProtoSearch, "bad_result")
			_, hitsBefore := h.searchAtNBO(t, "QQNOTHING01")
			results, hitsAfter := h.searchAtNBO(t, c.serial)
			t.Logf("asked the attacker %d times; results %+v", asked.Load(), results)
			if asked.Load() == 0 {
				t.Fatal("edge-nbo never asked the attacker")
			}
			for _, r := range results {
				if r.ID == c.inject.ID && r.Hit {
					t.Errorf("the injected %s became a hit (notification %s)", r.ID, r.NotificationID)
				}
			}
			if hitsAfter != hitsBefore {
				t.Errorf("edge-nbo holds %d hits after the search, %d before", hitsAfter, hitsBefore)
			}
			if got := refusalCount(nbo, transport.ProtoSearch, "bad_result"); got <= counted {
				t.Errorf("no bad_result refusal recorded at edge-nbo")
			}
			h.assertAudited(t, nbo, "edge-cdg", "", "bad_result")
		})
	}
	nbo.fed.faults.HealAll()
	t.Run("steered by forged dead gossip", func(t *testing.T) {
		// The attacker declares every other holder of europe dead to edge-nbo, so that edge-nbo
		// asks it, and answers with a record it made up.
		h.maliciousSearch(t, func(req remoteSearchRequest) remoteSearchAnswer {
			return remoteSearchAnswer{Results: []searchResult{{ID: "FR-EVIL-9", Score: 1, Hit: true, Record: evil("FR-EVIL-9", "ZZEVIL0009", "FR")}},
				Coverage: []ShardCoverage{{Shard: "europe", Source: "local"}}}
		})
		testutil.WaitFor(t, 30*time.Second, "the Nairobi edge to connect to every central node and the FR NCB", func() bool {
			for _, name := range []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr"} {
				if !nbo.fed.host.Connected(h.member(t, name).fed.id.ID) {
					_, _ = h.searchAtNBO(t, "QQNOTHING01")
					return false
				}
			}
			return true
		})
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			for i := uint32(0); ; i++ {
				var pkts [][]byte
				for _, name := range []string{"lyon-1", "lyon-2", "lyon-3", "ncb-fr"} {
					pkts = append(pkts, forgedDead(h.member(t, name).fed.id.ID, h.attacker.fed.id.ID, 1<<31+i))
				}
				h.forgeGossip(t, "edge-nbo", pkts...)
				select {
				case <-stop:
					return
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
		defer func() { close(stop); <-done }()
		time.Sleep(time.Second)
		var statuses []string
		for _, m := range nbo.Members() {
			statuses = append(statuses, m.Name+"="+m.Status)
		}
		p, _ := nbo.holderOf("europe")
		e, _ := nbo.fed.roster.Get(p)
		t.Logf("edge-nbo sees %v and would ask %s for europe", statuses, e.Name)
		results, _ := h.searchAtNBO(t, "ZZEVIL0009")
		for _, r := range results {
			if r.ID == "FR-EVIL-9" {
				t.Errorf("edge-nbo took the made-up FR-EVIL-9 from the attacker (hit %v): steered by forged gossip", r.Hit)
			}
		}
	})
	h.assertUnchanged(t, before)
}
