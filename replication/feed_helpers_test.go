package replication

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fedarms/fedarms/internal/testutil"
)

// edSigner signs checkpoints with an Ed25519 key, as a central node's key does.
type edSigner struct {
	name string
	key  ed25519.PrivateKey
}

func (s edSigner) Name() string                  { return s.name }
func (s edSigner) Sign(b []byte) ([]byte, error) { return ed25519.Sign(s.key, b), nil }

// feedNet is an in-process network of feed servers: each dial is a pipe to the peer's server.
// A peer set away refuses dials and has its open streams cut. Bytes answered are counted per peer.
type feedNet struct {
	mu      sync.Mutex // guards the maps
	servers map[string]*FeedServer
	away    map[string]bool
	open    map[string]map[net.Conn]bool
	keys    map[string]ed25519.PublicKey // central members' keys
	sent    map[string]*atomic.Int64
}

func newFeedNet() *feedNet {
	return &feedNet{servers: map[string]*FeedServer{}, away: map[string]bool{}, open: map[string]map[net.Conn]bool{},
		keys: map[string]ed25519.PublicKey{}, sent: map[string]*atomic.Int64{}}
}

// central makes name a central member with a fresh key and returns its signer.
func (n *feedNet) central(name string) edSigner {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	n.mu.Lock()
	n.keys[name] = pub
	n.mu.Unlock()
	return edSigner{name: name, key: priv}
}

// rogue is a key no roster lists as central, signing under name.
func rogue(name string) edSigner {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	return edSigner{name: name, key: priv}
}

func (n *feedNet) verify(cp *Checkpoint) error {
	n.mu.Lock()
	pub, ok := n.keys[cp.Signer]
	n.mu.Unlock()
	if !ok {
		return errors.New("not a central member")
	}
	if !ed25519.Verify(pub, cp.SignedBytes(), cp.Sig) {
		return errors.New("bad signature")
	}
	return nil
}

func (n *feedNet) server(name string) *FeedServer {
	n.mu.Lock()
	defer n.mu.Unlock()
	s, ok := n.servers[name]
	if !ok {
		s = NewFeedServer(nil)
		n.servers[name] = s
		n.sent[name] = new(atomic.Int64)
	}
	return s
}

func (n *feedNet) setAway(name string, away bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.away[name] = away
	if away {
		for c := range n.open[name] {
			c.Close()
		}
	}
}

// countingConn counts what the server writes.
type countingConn struct {
	net.Conn
	n *atomic.Int64
}

func (c countingConn) Write(b []byte) (int, error) {
	k, err := c.Conn.Write(b)
	c.n.Add(int64(k))
	return k, err
}

func (n *feedNet) dial(ctx context.Context, peer string) (io.ReadWriteCloser, error) {
	n.mu.Lock()
	s, ok := n.servers[peer]
	if !ok || n.away[peer] {
		n.mu.Unlock()
		return nil, fmt.Errorf("peer %s unreachable", peer)
	}
	client, srv := net.Pipe()
	if n.open[peer] == nil {
		n.open[peer] = map[net.Conn]bool{}
	}
	n.open[peer][srv] = true
	sent := n.sent[peer]
	n.mu.Unlock()
	go func() {
		defer func() {
			srv.Close()
			n.mu.Lock()
			delete(n.open[peer], srv)
			n.mu.Unlock()
		}()
		_ = s.Serve(context.Background(), countingConn{srv, sent}, "client")
	}()
	return client, nil
}

// feedCluster is a shard's raft group (3 central voters n0-n2 and non-voter n3, which serve the
// feed) and fed holders on one feedNet.
type feedCluster struct {
	*cluster
	net     *feedNet
	holders map[string]*Holder
	refusal chan [2]string // peer, reason
}

func newFeedCluster(t *testing.T) *feedCluster {
	t.Helper()
	c := &feedCluster{cluster: newCluster(t, 3, 1, clusterTune), net: newFeedNet(), holders: map[string]*Holder{},
		refusal: make(chan [2]string, 16)}
	for _, m := range c.members {
		var signer CheckpointSigner
		var fetch CheckpointFetcher
		if m.voter {
			signer = c.net.central(m.id)
		} else {
			fetch = FetchCheckpoint(c.net.dial, c.centrals, c.net.verify, 2*time.Second)
		}
		c.net.server(m.id).ServeGroup(m.g, signer, fetch)
	}
	return c
}

func (c *feedCluster) centrals() []string { return []string{"n0", "n1", "n2"} }

// holder opens a fed holder named name taking the shard from sources, serving it in turn.
func (c *feedCluster) holder(name string, tune func(*HolderConfig), sources ...string) *Holder {
	c.t.Helper()
	cfg := HolderConfig{Shard: "europe", Dir: c.t.TempDir(), Sources: sources, Centrals: c.centrals,
		Dial: c.net.dial, Verify: c.net.verify, Wait: 500 * time.Millisecond, Timeout: 2 * time.Second,
		Away: 300 * time.Millisecond, MaxEntries: 8,
		Refused: func(_, peer, reason string) {
			select {
			case c.refusal <- [2]string{peer, reason}:
			default:
			}
		}}
	if tune != nil {
		tune(&cfg)
	}
	h, err := OpenHolder(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { h.Close() })
	c.net.server(name).ServeHolder(h)
	c.holders[name] = h
	return h
}

// holdersConverged reports whether every holder has the leader's digest, count and state hash.
func (c *feedCluster) holdersConverged() bool {
	l := c.leader()
	if l == nil {
		return false
	}
	want, wantHash := l.g.State().Stats(), l.g.State().Hash()
	for _, h := range c.holders {
		st := h.State().Stats()
		if st.Digest != want.Digest || st.Records != want.Records || h.State().Hash() != wantHash {
			return false
		}
	}
	return true
}

func (c *feedCluster) waitHolders(what string) {
	c.t.Helper()
	testutil.WaitFor(c.t, 30*time.Second, what, c.holdersConverged)
}

// deleteIDs deletes FR-<from>..FR-<to-1> through the leader.
func (c *feedCluster) deleteIDs(from, to int) {
	c.t.Helper()
	var ids []string
	for i := from; i < to; i++ {
		ids = append(ids, fmt.Sprintf("FR-%07d", i))
	}
	var err error
	for attempt := 0; attempt < 100; attempt++ {
		_, err = c.waitLeader().g.Apply(context.Background(), &Command{Op: OpDelete, Principal: Principal{Agency: "FR-NCB", Country: "FR"}, IDs: ids})
		if err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	c.t.Fatal(err)
}
