package transport

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
)

// loopbackAddrs listens on TCP and QUIC on loopback, ports chosen by the kernel.
var loopbackAddrs = []string{"/ip4/127.0.0.1/tcp/0", "/ip4/127.0.0.1/udp/0/quic-v1"}

// syncBuffer collects every node's log lines; they are printed only when a test fails.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// fed is an in-process test federation: a root key, one roster per node (as each real node mirrors
// the control group), an optional shared fault switch, and a log dumped on failure.
type fed struct {
	t        *testing.T
	rootPub  ed25519.PublicKey
	rootPriv ed25519.PrivateKey
	faults   *Faults
	logs     *syncBuffer
	log      *slog.Logger
	nodes    []*node
	signed   []SignedEntry
}

// node is one member of a test federation.
type node struct {
	name   string
	ident  *Identity
	roster *Roster
	host   *Host
	entry  Entry
}

func newFed(t *testing.T) *fed {
	t.Helper()
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	f := &fed{t: t, rootPub: pub, rootPriv: priv, logs: logs,
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	t.Cleanup(func() {
		for _, n := range f.nodes {
			if n.host != nil {
				n.host.Close()
			}
		}
		if t.Failed() || os.Getenv("TRANSPORT_TEST_LOGS") != "" {
			t.Logf("node logs:\n%s", logs.String())
		}
	})
	return f
}

func newTestIdentity(t *testing.T) *Identity {
	t.Helper()
	priv, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id, err := NewIdentity(priv)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// start runs a member: its roster holds every entry signed so far, and its own entry (with the
// addresses it actually listens on, none for a dial-out-only host) is added to every roster, its
// own included.
func (f *fed) start(name string, role Role, mod func(*Config)) *node {
	f.t.Helper()
	n := f.startUnlisted(name, mod)
	e := Entry{PeerID: n.ident.ID, Name: name, Role: role, Shards: []string{AllShards}, Addrs: n.host.ListenAddrs()}
	if role != RoleCentral {
		e.Country = "FR"
	}
	n.entry = e
	f.admit(e)
	return n
}

// startUnlisted runs a host whose own entry is in no roster (an outsider until admitted).
func (f *fed) startUnlisted(name string, mod func(*Config)) *node {
	f.t.Helper()
	roster, err := NewRoster(f.rootPub)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, se := range f.signed {
		if err := roster.Add(se); err != nil {
			f.t.Fatal(err)
		}
	}
	n := &node{name: name, ident: newTestIdentity(f.t), roster: roster}
	cfg := Config{Identity: n.ident, ListenAddrs: loopbackAddrs, Roster: roster, Faults: f.faults,
		Logger: f.log.With("node", name)}
	if mod != nil {
		mod(&cfg)
	}
	h, err := NewHost(context.Background(), cfg)
	if err != nil {
		f.t.Fatalf("start %s: %v", name, err)
	}
	n.host = h
	f.nodes = append(f.nodes, n)
	return n
}

// admit signs e and adds it to every node's roster.
func (f *fed) admit(e Entry) {
	f.t.Helper()
	se, err := SignEntry(f.rootPriv, e)
	if err != nil {
		f.t.Fatal(err)
	}
	f.signed = append(f.signed, se)
	for _, n := range f.nodes {
		if err := n.roster.Add(se); err != nil {
			f.t.Fatal(err)
		}
	}
}

// echo serves ProtoMessage on n by copying every byte back.
func echo(t *testing.T, n *node) {
	t.Helper()
	err := n.host.Handle(ProtoMessage, func(s network.Stream) {
		defer s.Close()
		io.Copy(s, s)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// roundTrip opens a ProtoMessage stream from a to b, sends payload, and checks it comes back.
func roundTrip(ctx context.Context, a, b *node, payload []byte) (network.Stream, error) {
	s, err := a.host.NewStream(ctx, b.ident.ID, ProtoMessage)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		s.SetDeadline(d)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := s.Write(payload)
		if err == nil {
			err = s.CloseWrite()
		}
		errc <- err
	}()
	got, err := io.ReadAll(s)
	if werr := <-errc; werr != nil {
		return s, werr
	}
	if err != nil {
		return s, err
	}
	if !bytes.Equal(got, payload) {
		return s, io.ErrUnexpectedEOF
	}
	return s, nil
}

// errContains reports whether err's text mentions any of the words.
func errContains(err error, words ...string) bool {
	if err == nil {
		return false
	}
	for _, w := range words {
		if strings.Contains(err.Error(), w) {
			return true
		}
	}
	return false
}
