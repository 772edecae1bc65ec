package transport

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/protocol"

	"github.com/fedarms/fedarms/internal/testutil"
)

// raftProtocols lists the protocols of a's open raft streams to b.
func raftProtocols(a, b *node) []protocol.ID {
	var out []protocol.ID
	for _, c := range a.host.P2P().Network().ConnsToPeer(b.ident.ID) {
		for _, s := range c.GetStreams() {
			if p := s.Protocol(); p == ProtoRaft || p == ProtoRaftZstd || p == ProtoRaftResume {
				out = append(out, p)
			}
		}
	}
	return out
}

// A member of a release before compression serves only ProtoRaft: the others dial it there, and
// one raft group runs over both protocols at once.
func TestRaftZstdFallsBackToPlainForAnOlderMember(t *testing.T) {
	runMixedGroup(t, RaftLayerConfig{Uncompressed: true}, []string{ProtoRaftResume, ProtoRaftZstd}, ProtoRaft)
}

// A member of the release before resumable snapshots serves ProtoRaftZstd and ProtoRaft: the others
// dial it on ProtoRaftZstd and speak ProtoRaftResume among themselves.
func TestRaftResumeFallsBackToZstdForAnOlderMember(t *testing.T) {
	runMixedGroup(t, RaftLayerConfig{NoResume: true}, []string{ProtoRaftResume}, ProtoRaftZstd)
}

// runMixedGroup runs a group of three where one member is of an older release: it dials as oldCfg
// says and serves none of unhandled. Streams with it must be on oldProto, the others on
// ProtoRaftResume.
func runMixedGroup(t *testing.T, oldCfg RaftLayerConfig, unhandled []string, oldProto protocol.ID) {
	f := newFed(t)
	var nodes []*node
	for i := range 3 {
		nodes = append(nodes, f.start("central-"+strconv.Itoa(i), RoleCentral, nil))
	}
	var servers []raft.Server
	for _, n := range nodes {
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n.name), Address: ServerAddress(n.ident.ID)})
	}
	old := nodes[2]
	var rafts []*raftNode
	for _, n := range nodes {
		cfg, ready := RaftLayerConfig{Group: "shard/europe"}, func() {}
		if n == old {
			// As the release before: it dials as it did and its registry had none of the newer ids.
			cfg = oldCfg
			cfg.Group = "shard/europe"
			ready = func() {
				for _, p := range unhandled {
					n.host.Unhandle(p)
				}
			}
		}
		rafts = append(rafts, runRaftLayer(t, f, n, servers, cfg, ready))
	}
	var leader *raftNode
	testutil.WaitFor(t, 15*time.Second, "a leader", func() bool { leader = leaderOf(rafts); return leader != nil })
	for i := range 20 {
		if err := leader.r.Apply([]byte("entry-"+strconv.Itoa(i)), 5*time.Second).Error(); err != nil {
			t.Fatalf("apply: %v", err)
		}
	}
	testutil.WaitFor(t, 10*time.Second, "every member to apply, the older one too", func() bool {
		for _, rn := range rafts {
			if !rn.fsm.has("entry-19") {
				return false
			}
		}
		return true
	})
	// Raft streams run between the leader and each follower (followers do not talk to each other):
	// the older protocol where either end is the older member, the newest otherwise.
	from := leader.n
	for _, n := range nodes {
		if n == from {
			continue
		}
		got := append(raftProtocols(from, n), raftProtocols(n, from)...)
		want := protocol.ID(ProtoRaftResume)
		if n == old || from == old {
			want = oldProto
		}
		if len(got) == 0 || slices.ContainsFunc(got, func(p protocol.ID) bool { return p != want }) {
			t.Fatalf("raft streams between %s and %s: %v, want all %s", from.name, n.name, got, want)
		}
	}
}

// A frame that breaks the format is refused as the sender's fault (bad_frame) and resets the
// stream before raft reads anything of it.
func TestRaftZstdBadFrameIsRefused(t *testing.T) {
	p := newGuardPair(t, 0)
	s, err := p.a.host.NewStream(context.Background(), p.b.ident.ID, ProtoRaftZstd)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Reset()
	// A zstd frame announcing the most a frame may hold, whose payload is no zstd.
	frame := zstdFrame(MaxRaftFrame, make([]byte, 1000))
	go s.Write(append(raftHeader("g"), frame...))
	acc := make(chan error, 1)
	go func() {
		in, err := p.lb.Accept()
		if err != nil {
			acc <- err
			return
		}
		defer in.Close()
		_, err = in.Read(make([]byte, 1))
		acc <- err
	}()
	select {
	case err := <-acc:
		if err == nil {
			t.Fatal("raft read a byte of a bad frame")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("raft's side still open 5 s after a bad frame")
	}
	testutil.WaitFor(t, 5*time.Second, "the refusal", func() bool { return slices.Contains(p.auth.refused(), "bad_frame") })
	s.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := s.Read(make([]byte, 1)); !isReset(err) {
		t.Fatalf("sender's stream after the refusal: %v, want a reset", err)
	}
}
