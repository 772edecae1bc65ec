package transport

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/fedarms/fedarms/internal/testutil"
)

func TestMembersTalkOverTCPAndQUIC(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keep  string // only roster addrs containing this are kept, to force one transport
		noise bool   // QUIC brings its own TLS 1.3; TCP must negotiate Noise
	}{
		{"tcp", "/tcp/", true},
		{"quic-v1", "/quic-v1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFed(t)
			a := f.start("a", RoleCentral, nil)
			b := f.startUnlisted("b", nil)
			var addrs []string
			for _, s := range b.host.ListenAddrs() {
				if strings.Contains(s, tc.keep) {
					addrs = append(addrs, s)
				}
			}
			f.admit(Entry{PeerID: b.ident.ID, Name: "b", Role: RoleNCB, Country: "FR", Shards: []string{"europe"}, Addrs: addrs})
			echo(t, b)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			s, err := roundTrip(ctx, a, b, []byte("hello over "+tc.name))
			if err != nil {
				t.Fatalf("round trip: %v", err)
			}
			if !strings.Contains(s.Conn().RemoteMultiaddr().String(), tc.keep) {
				t.Fatalf("connection %s is not over %s", s.Conn().RemoteMultiaddr(), tc.name)
			}
			if got := s.Conn().ConnState().Security; tc.noise && got != "/noise" {
				t.Fatalf("security %q, want /noise", got)
			}
		})
	}
}

// An outsider is a host whose key the root never signed. It knows a member's address and has the
// member in its own roster, so only the member's gater stands in the way.
func TestOutsiderIsRefused(t *testing.T) {
	f := newFed(t)
	member := f.start("member", RoleCentral, nil)
	outsider := f.startUnlisted("outsider", nil)
	echo(t, member)
	echo(t, outsider)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()

	t.Run("accept", func(t *testing.T) {
		err := outsider.host.P2P().Connect(ctx, peer.AddrInfo{ID: member.ident.ID, Addrs: member.host.P2P().Addrs()})
		if err == nil {
			// QUIC may report the dial as done before the remote's gater runs; the connection must
			// still be gone and useless.
			testutil.WaitFor(t, 2*time.Second, "refused connection to close", func() bool { return !member.host.Connected(outsider.ident.ID) })
			if _, err := outsider.host.P2P().NewStream(ctx, member.ident.ID, ProtoMessage); err == nil {
				t.Fatal("outsider opened a stream on a member")
			}
		}
		if member.host.Connected(outsider.ident.ID) {
			t.Fatal("member kept a connection from an outsider")
		}
	})
	t.Run("dial", func(t *testing.T) {
		err := member.host.P2P().Connect(ctx, peer.AddrInfo{ID: outsider.ident.ID, Addrs: outsider.host.P2P().Addrs()})
		if err == nil || !errContains(err, "gater") {
			t.Fatalf("member dialled an outsider: err=%v", err)
		}
		if _, err := member.host.NewStream(ctx, outsider.ident.ID, ProtoMessage); !errors.Is(err, ErrNotMember) {
			t.Fatalf("NewStream to outsider: %v, want ErrNotMember", err)
		}
	})
}

// A host that signs its own entry with a key other than the federation's cannot get in, and neither
// can one that edits a genuine entry after signing.
func TestForgedEntryCannotJoin(t *testing.T) {
	f := newFed(t)
	member := f.start("member", RoleCentral, nil)
	forger := f.startUnlisted("forger", nil)
	_, otherRoot, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	e := Entry{PeerID: forger.ident.ID, Name: "forger", Role: RoleNCB, Country: "XX", Shards: []string{AllShards}, Addrs: forger.host.ListenAddrs()}
	forged, err := SignEntry(otherRoot, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := member.roster.Add(forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("forged entry: %v, want ErrBadSignature", err)
	}
	genuine, err := SignEntry(f.rootPriv, Entry{PeerID: forger.ident.ID, Name: "forger", Role: RoleEdge, Shards: []string{"africa"}})
	if err != nil {
		t.Fatal(err)
	}
	genuine.Entry.Shards = []string{AllShards} // widened after signing
	if err := member.roster.Add(genuine); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("edited entry: %v, want ErrBadSignature", err)
	}
	if err := member.roster.Add(SignedEntry{Entry: e}); !errors.Is(err, ErrUnsigned) {
		t.Fatalf("unsigned entry: %v, want ErrUnsigned", err)
	}
	if member.roster.Has(forger.ident.ID) {
		t.Fatal("roster holds the forger")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	forger.host.P2P().Connect(ctx, peer.AddrInfo{ID: member.ident.ID, Addrs: member.host.P2P().Addrs()})
	time.Sleep(100 * time.Millisecond) // let a QUIC connection reach the member's gater
	if member.host.Connected(forger.ident.ID) {
		t.Fatal("member admitted a connection from the forger")
	}
}

func TestRevocationDisconnectsLivePeer(t *testing.T) {
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleEdge, nil)
	echo(t, a)
	echo(t, b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// a long-lived stream from b to a, as raft or gossip would hold
	s, err := b.host.NewStream(ctx, a.ident.ID, ProtoMessage)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	if !a.roster.Remove(b.ident.ID) {
		t.Fatal("b was not in a's roster")
	}
	// Remove returns after the watcher ran: the connection is already closed on a's side.
	if a.host.Connected(b.ident.ID) {
		t.Fatal("a still connected to b right after revoking it")
	}
	testutil.WaitFor(t, 3*time.Second, "b to see the disconnection", func() bool { return !b.host.Connected(a.ident.ID) })
	s.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := s.Read(make([]byte, 1)); err == nil {
		t.Fatal("stream survived revocation")
	}
	// b still lists a, so it tries again: a's gater refuses it on accept.
	b.host.closePeer(a.ident.ID)
	if _, err := roundTrip(ctx, b, a, []byte("again")); err == nil {
		t.Fatal("revoked member reconnected")
	}
	if a.host.Connected(b.ident.ID) {
		t.Fatal("a accepted the revoked member again")
	}
	// and a refuses to dial b
	if _, err := a.host.NewStream(ctx, b.ident.ID, ProtoMessage); !errors.Is(err, ErrNotMember) {
		t.Fatalf("a dialled revoked b: %v", err)
	}
}

func TestHandleAndNewStreamOnlyRegisteredProtocols(t *testing.T) {
	f := newFed(t)
	a := f.start("a", RoleCentral, nil)
	b := f.start("b", RoleCentral, nil)
	if err := a.host.Handle("/fedarms/other/1", func(network.Stream) {}); !errors.Is(err, ErrUnknownProtocol) {
		t.Fatalf("Handle of unregistered id: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := a.host.NewStream(ctx, b.ident.ID, "/fedarms/other/1"); !errors.Is(err, ErrUnknownProtocol) {
		t.Fatalf("NewStream on unregistered id: %v", err)
	}
	for _, p := range Protocols {
		if err := a.host.Handle(p, func(s network.Stream) { s.Close() }); err != nil {
			t.Fatalf("Handle(%s): %v", p, err)
		}
	}
}

// The resource manager's limits are the configured ones, not libp2p's scaled defaults: a host
// allowed one connection refuses a second peer.
func TestExplicitConnectionLimit(t *testing.T) {
	f := newFed(t)
	small := f.start("small", RoleCentral, func(c *Config) { c.Limits = Limits{Conns: 1} })
	p1 := f.start("p1", RoleNCB, nil)
	p2 := f.start("p2", RoleNCB, nil)
	echo(t, small)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := roundTrip(ctx, p1, small, []byte("first")); err != nil {
		t.Fatalf("first peer: %v", err)
	}
	_, err := roundTrip(ctx, p2, small, []byte("second"))
	if err == nil {
		t.Fatal("second peer got in past a one-connection limit")
	}
	// Once the first peer leaves, the slot is free and the second peer gets in: the refusal was
	// the connection count, not something about the second peer.
	// Both sides drop it, so neither holds a half-closed connection in the count; a loaded machine
	// may take a while to release it.
	small.host.closePeer(p1.ident.ID)
	p1.host.closePeer(small.ident.ID)
	testutil.WaitFor(t, 20*time.Second, "the second peer to get in", func() bool {
		p2.host.P2P().Network().(*swarm.Swarm).Backoff().Clear(small.ident.ID) // forget the failure
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err := roundTrip(ctx, p2, small, []byte("second"))
		if err != nil {
			t.Logf("second peer, once the first left: %v", err)
		}
		return err == nil
	})
}

func TestNewHostNeedsIdentityAndRoster(t *testing.T) {
	if _, err := NewHost(context.Background(), Config{}); err == nil {
		t.Fatal("NewHost without identity and roster succeeded")
	}
}

// A member that was unreachable for a while (host down, link cut) is dialled again as soon as it
// is back: libp2p's dial backoff, which grows to minutes, does not hold members apart.
func TestRedialAfterOutageIgnoresDialBackoff(t *testing.T) {
	f := newFed(t)
	a := f.startUnlisted("a", func(c *Config) { c.ListenAddrs = loopbackAddrs[:1] }) // TCP: refusals are immediate
	addrs := a.host.ListenAddrs()
	f.admit(Entry{PeerID: a.ident.ID, Name: "a", Role: RoleCentral, Shards: []string{AllShards}, Addrs: addrs})
	b := f.start("b", RoleEdge, nil)
	echo(t, a)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := roundTrip(ctx, b, a, []byte("before")); err != nil {
		t.Fatal(err)
	}
	a.host.Close()
	testutil.WaitFor(t, 3*time.Second, "b to see a gone", func() bool { return !b.host.Connected(a.ident.ID) })
	for range 3 {
		if _, err := roundTrip(ctx, b, a, []byte("knock")); err == nil {
			t.Fatal("reached a closed host")
		}
	}
	if sw := b.host.P2P().Network().(*swarm.Swarm); !sw.Backoff().Backoff(a.ident.ID, ma.StringCast(addrs[0])) {
		t.Fatal("libp2p recorded no backoff; the test would prove nothing")
	}
	// a comes back with the same key on the same address
	h, err := NewHost(context.Background(), Config{Identity: a.ident, ListenAddrs: addrs, Roster: a.roster, Logger: f.log})
	if err != nil {
		t.Fatal(err)
	}
	a.host = h
	echo(t, a)
	if _, err := roundTrip(ctx, b, a, []byte("back")); err != nil {
		t.Fatalf("first dial after a came back: %v", err)
	}
}
