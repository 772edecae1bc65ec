package transport

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/peer"
)

// testAuthorizer lets the peers in voters send raft under their own name and address, and records
// what it was asked and what the layer refused.
type testAuthorizer struct {
	voters map[peer.ID]string // peer -> server id

	mu       sync.Mutex
	seen     []RaftRPC // guarded by mu
	refusals []string  // guarded by mu: "reason"
}

func (a *testAuthorizer) AuthorizeStream(_ string, from peer.ID) error {
	if _, ok := a.voters[from]; !ok {
		return &RaftRefusal{Reason: "not_voter", Err: errors.New("not a voter")}
	}
	return nil
}

func (a *testAuthorizer) AuthorizeRPC(_ string, from peer.ID, rpc RaftRPC) error {
	a.mu.Lock()
	a.seen = append(a.seen, rpc)
	a.mu.Unlock()
	if rpc.ID != a.voters[from] || rpc.Addr != from.String() || rpc.Legacy != "" && rpc.Legacy != from.String() {
		return &RaftRefusal{Reason: "forged_sender", Err: fmt.Errorf("%+v", rpc)}
	}
	return nil
}

func (a *testAuthorizer) RaftRefused(_ string, _ peer.ID, reason string, _ error) {
	a.mu.Lock()
	a.refusals = append(a.refusals, reason)
	a.mu.Unlock()
}

func (a *testAuthorizer) refused() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.refusals...)
}

// guardPair is a sender a (unguarded, as any dialler is) and a receiver b whose group "g" is
// guarded by auth, which lets a send as "a".
type guardPair struct {
	a, b   *node
	la, lb *RaftLayer
	auth   *testAuthorizer
}

func newGuardPair(t *testing.T, maxRPC int) *guardPair {
	t.Helper()
	f := newFed(t)
	p := &guardPair{a: f.start("a", RoleCentral, nil), b: f.start("b", RoleCentral, nil)}
	p.auth = &testAuthorizer{voters: map[peer.ID]string{p.a.ident.ID: "a"}}
	var err error
	if p.lb, err = NewRaftLayerWithConfig(p.b.host, RaftLayerConfig{Group: "g", Authorizer: p.auth, MaxRPC: maxRPC}); err != nil {
		t.Fatal(err)
	}
	if p.la, err = NewRaftLayer(p.a.host, "g"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.la.Close(); p.lb.Close() })
	return p
}

// header is the RPC header of the member named id at peer p.
func header(id string, p peer.ID) raft.RPCHeader {
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(id), Addr: []byte(p.String())}
}

// rpcBytes frames req as raft's NetworkTransport does: the type byte, then msgpack.
func rpcBytes(t *testing.T, typ RaftRPCType, req any) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte(byte(typ))
	mh := &codec.MsgpackHandle{}
	mh.TimeNotBuiltin = true
	if err := codec.NewEncoder(&b, mh).Encode(req); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// send dials b from a, writes payload, and returns what b's raft would read (all of it until the
// guard ends the stream, or what arrived within wait) and what a read back (nil error: the stream
// ended cleanly or is still open).
func (p *guardPair) send(t *testing.T, payload []byte, wait time.Duration) (got []byte, accepted bool, dialErr error) {
	t.Helper()
	c, err := p.la.Dial(ServerAddress(p.b.ident.ID), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	go c.Write(payload)
	type result struct {
		b   []byte
		err error
	}
	res := make(chan result, 1)
	acc := make(chan net.Conn, 1)
	go func() {
		in, err := p.lb.Accept()
		if err != nil {
			return
		}
		acc <- in
		in.SetReadDeadline(time.Now().Add(wait))
		var buf bytes.Buffer
		_, err = io.Copy(&buf, in)
		res <- result{buf.Bytes(), err}
		in.Close()
	}()
	select {
	case <-acc:
		r := <-res
		var ne net.Error
		if r.err != nil && !(errors.As(r.err, &ne) && ne.Timeout()) {
			t.Fatalf("raft's side of the stream: %v", r.err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, dialErr = c.Read(make([]byte, 1))
		return r.b, true, dialErr
	case <-time.After(wait + time.Second):
		c.SetReadDeadline(time.Now().Add(time.Second))
		_, dialErr = c.Read(make([]byte, 1))
		return nil, false, dialErr
	}
}

// isReset reports whether err is a stream reset rather than a timeout.
func isReset(err error) bool {
	var ne net.Error
	return err != nil && !errors.Is(err, io.EOF) && !(errors.As(err, &ne) && ne.Timeout())
}

func appendEntries(t *testing.T, hdr raft.RPCHeader, entries int) *raft.AppendEntriesRequest {
	t.Helper()
	req := &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 7, Leader: hdr.Addr, PrevLogEntry: 41, PrevLogTerm: 6, LeaderCommitIndex: 41}
	for i := range entries {
		data := make([]byte, 100+i*1000)
		rand.Read(data)
		req.Entries = append(req.Entries, &raft.Log{Index: uint64(42 + i), Term: 7, Type: raft.LogCommand, Data: data,
			Extensions: []byte("ext"), AppendedAt: time.Now()})
	}
	return req
}

// Honest RPCs from a voter reach raft exactly as the sender wrote them, pipelined on one stream,
// each seen by the authorizer with the sender it names; an InstallSnapshot's data follows its
// request untouched, and the next RPC after it is screened again.
func TestRaftGuardPassesHonestRPCsByteIdentical(t *testing.T) {
	p := newGuardPair(t, 0)
	hdr := header("a", p.a.ident.ID)
	snapData := make([]byte, 300<<10)
	rand.Read(snapData)
	var payload []byte
	payload = append(payload, rpcBytes(t, RaftAppendEntries, appendEntries(t, hdr, 5))...)
	payload = append(payload, rpcBytes(t, RaftAppendEntries, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 7})...) // a heartbeat
	payload = append(payload, rpcBytes(t, RaftRequestVote, &raft.RequestVoteRequest{RPCHeader: hdr, Term: 8, Candidate: hdr.Addr, LastLogIndex: 46})...)
	payload = append(payload, rpcBytes(t, RaftRequestPreVote, &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 8, LastLogIndex: 46})...)
	payload = append(payload, rpcBytes(t, RaftInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: 1, Term: 8,
		Leader: hdr.Addr, LastLogIndex: 46, LastLogTerm: 7, Configuration: []byte{1, 2}, Size: int64(len(snapData))})...)
	payload = append(payload, snapData...)
	payload = append(payload, rpcBytes(t, RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: hdr})...)

	got, accepted, _ := p.send(t, payload, time.Second)
	if !accepted {
		t.Fatal("a voter's stream was not accepted")
	}
	if !bytes.Equal(got, payload) {
		t.Fatalf("raft read %d bytes, the sender wrote %d; equal prefix %d", len(got), len(payload), commonPrefix(got, payload))
	}
	p.auth.mu.Lock()
	defer p.auth.mu.Unlock()
	var types []RaftRPCType
	for _, r := range p.auth.seen {
		types = append(types, r.Type)
		if r.ID != "a" || r.Addr != p.a.ident.ID.String() {
			t.Errorf("%s seen as sent by %q at %q", r.Type, r.ID, r.Addr)
		}
	}
	want := []RaftRPCType{RaftAppendEntries, RaftAppendEntries, RaftRequestVote, RaftRequestPreVote, RaftInstallSnapshot, RaftTimeoutNow}
	if fmt.Sprint(types) != fmt.Sprint(want) {
		t.Errorf("authorizer saw %v, want %v", types, want)
	}
	if len(p.auth.refusals) > 0 {
		t.Errorf("refusals: %v", p.auth.refusals)
	}
}

func commonPrefix(a, b []byte) int {
	n := 0
	for n < len(a) && n < len(b) && a[n] == b[n] {
		n++
	}
	return n
}

// Each bad RPC is refused as the first thing on a stream, and also after a good one: raft reads the
// good one and then the end of the stream, never a byte of the bad one; the sender sees a reset.
func TestRaftGuardRefusesBadRPCs(t *testing.T) {
	p := newGuardPair(t, 64<<10)
	own := header("a", p.a.ident.ID)
	other := header("b", p.b.ident.ID)
	huge := []byte{byte(RaftAppendEntries), 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xc6, 0xff, 0xff, 0xff, 0xff} // bin32 of 4 GiB, no data
	manyItems := []byte{byte(RaftAppendEntries), 0xdd, 0xff, 0xff, 0xff, 0xff}                            // array32 of 4 G items
	cases := []struct {
		name, reason string
		payload      []byte
	}{
		{"another voter's id and address", "forged_sender", rpcBytes(t, RaftAppendEntries, appendEntries(t, other, 1))},
		{"own id, another's address", "forged_sender", rpcBytes(t, RaftAppendEntries, appendEntries(t, raft.RPCHeader{ProtocolVersion: 3, ID: own.ID, Addr: other.Addr}, 1))},
		{"legacy leader of another", "forged_sender", rpcBytes(t, RaftAppendEntries, &raft.AppendEntriesRequest{RPCHeader: own, Term: 9, Leader: other.Addr})},
		{"no header, legacy candidate", "forged_sender", rpcBytes(t, RaftRequestVote, &raft.RequestVoteRequest{Term: 9, Candidate: other.Addr})},
		{"snapshot as another", "forged_sender", append(rpcBytes(t, RaftInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: other, Term: 9, Size: 3}), 1, 2, 3)},
		{"timeout-now as another", "forged_sender", rpcBytes(t, RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: other})},
		{"unknown rpc type", "bad_rpc", append([]byte{9}, rpcBytes(t, RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: own})[1:]...)},
		{"byte that starts no value", "bad_rpc", []byte{byte(RaftAppendEntries), 0xc1}},
		{"wrong field type", "bad_rpc", append([]byte{byte(RaftAppendEntries)}, 0x81, 0xa4, 'T', 'e', 'r', 'm', 0xa3, 'x', 'y', 'z')},
		{"not a struct", "bad_rpc", []byte{byte(RaftAppendEntries), 0x07}},
		{"negative snapshot size", "bad_rpc", rpcBytes(t, RaftInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: own, Term: 9, Size: -1})},
		{"4 GiB length prefix", "rpc_too_big", huge},
		{"4 G items", "rpc_too_big", manyItems},
		{"honest but over the limit", "rpc_too_big", rpcBytes(t, RaftAppendEntries, appendEntries(t, own, 70))},
	}
	good := rpcBytes(t, RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: own})
	for _, c := range cases {
		for _, after := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/after_good=%v", c.name, after), func(t *testing.T) {
				var payload, want []byte
				if after {
					payload, want = append(payload, good...), good
				}
				payload = append(payload, c.payload...)
				n := len(p.auth.refused())
				start := time.Now()
				got, accepted, dialErr := p.send(t, payload, 3*time.Second)
				if !accepted {
					t.Fatal("the stream of a voter was not accepted")
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("raft read %q, want %q", got, want)
				}
				if !isReset(dialErr) {
					t.Fatalf("the sender's stream was not reset: %v", dialErr)
				}
				if time.Since(start) > 2*time.Second {
					t.Fatalf("took %v: the guard waited for data it should have refused", time.Since(start))
				}
				refusals := p.auth.refused()
				if len(refusals) != n+1 || refusals[n] != c.reason {
					t.Fatalf("refusals %v, want one more: %s", refusals[n:], c.reason)
				}
			})
		}
	}
}

// A peer the authorizer does not accept for the group is reset before raft sees its stream.
func TestRaftGuardRefusesStreamOfNonVoter(t *testing.T) {
	p := newGuardPair(t, 0)
	delete(p.auth.voters, p.a.ident.ID)
	got, accepted, dialErr := p.send(t, rpcBytes(t, RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: header("a", p.a.ident.ID)}), 500*time.Millisecond)
	if accepted || got != nil {
		t.Fatalf("raft accepted the stream of a non-voter and read %q", got)
	}
	if !isReset(dialErr) {
		t.Fatalf("the sender's stream was not reset: %v", dialErr)
	}
	if r := p.auth.refused(); len(r) != 1 || r[0] != "not_voter" {
		t.Fatalf("refusals %v", r)
	}
	p.auth.mu.Lock()
	defer p.auth.mu.Unlock()
	if len(p.auth.seen) != 0 {
		t.Fatalf("RPCs of a refused stream were read: %v", p.auth.seen)
	}
}

// scanMsgpack ends each request exactly where msgpack's codec does, for every raft request, with
// times and extensions in both of raft's time formats.
func TestScanMsgpackEndsWhereCodecDoes(t *testing.T) {
	hdr := header("a", "12D3KooWtest")
	reqs := []any{
		appendEntries(t, hdr, 0), appendEntries(t, hdr, 3),
		&raft.AppendEntriesRequest{RPCHeader: hdr, Entries: []*raft.Log{{Data: make([]byte, 70000), Extensions: make([]byte, 300)}}},
		&raft.RequestVoteRequest{RPCHeader: hdr, Term: 1 << 40, LeadershipTransfer: true},
		&raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 3},
		&raft.InstallSnapshotRequest{RPCHeader: hdr, Size: 1 << 33, Configuration: make([]byte, 40)},
		&raft.TimeoutNowRequest{RPCHeader: hdr},
		map[string]any{"f": 1.5, "g": float32(2.5), "n": -1 << 40, "m": -100, "s": string(make([]byte, 40)), "a": []any{nil, true, false, int8(-3)}},
	}
	for _, newTime := range []bool{false, true} {
		for i, req := range reqs {
			var b bytes.Buffer
			mh := &codec.MsgpackHandle{}
			mh.TimeNotBuiltin = !newTime
			if err := codec.NewEncoder(&b, mh).Encode(req); err != nil {
				t.Fatal(err)
			}
			enc := b.Bytes()
			trailing := append(append([]byte(nil), enc...), 0xc1, 0xc1) // what follows must stay unread
			var buf bytes.Buffer
			if err := scanMsgpack(bufio.NewReader(bytes.NewReader(trailing)), &buf, 1<<20); err != nil {
				t.Fatalf("request %d (new time format %v): %v", i, newTime, err)
			}
			if !bytes.Equal(buf.Bytes(), enc) {
				t.Fatalf("request %d (new time format %v): scanned %d bytes of %d", i, newTime, buf.Len(), len(enc))
			}
		}
	}
}

// A length prefix costs nothing until its bytes arrive: a 4 GiB bin with 1 KiB of data behind it
// ends in an unexpected EOF having buffered about that 1 KiB.
func TestScanMsgpackDoesNotAllocateAnnouncedLength(t *testing.T) {
	in := []byte{0xc6}
	in = binary.BigEndian.AppendUint32(in, 1<<32-1)
	in = append(in, make([]byte, 1024)...)
	var buf bytes.Buffer
	err := scanMsgpack(bufio.NewReader(bytes.NewReader(in)), &buf, 1<<33)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("err %v, want unexpected EOF", err)
	}
	if buf.Cap() > 64<<10 {
		t.Fatalf("buffered %d bytes of capacity for 1 KiB received", buf.Cap())
	}
}

// A request cut short by the network (here: the rest never comes before raft's read deadline) is
// not a refusal: raft reads none of it and sees the stream's own error, and nobody is blamed.
func TestRaftGuardDoesNotBlameABrokenStream(t *testing.T) {
	p := newGuardPair(t, 0)
	full := rpcBytes(t, RaftAppendEntries, appendEntries(t, header("a", p.a.ident.ID), 3))
	got, accepted, _ := p.send(t, full[:len(full)/2], 500*time.Millisecond)
	if !accepted || len(got) > 0 {
		t.Fatalf("accepted %v, raft read %d bytes of half a request", accepted, len(got))
	}
	if r := p.auth.refused(); len(r) > 0 {
		t.Fatalf("a broken stream was refused as %v", r)
	}
}
