package transport

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/fedarms/fedarms/internal/testutil"
)

// Fuzz targets for what the transport decodes from members (health metadata, the raft stream
// header, gossip packet frames) and from the control group and the disk (signed roster entries and
// revocations, the node's key file). Keys are derived from fixed seeds so that corpus files stay
// meaningful between runs. scripts/fuzz.sh runs them for longer.

// fuzzRoot is a fixed root key.
func fuzzRoot() (ed25519.PublicKey, ed25519.PrivateKey) {
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, ed25519.SeedSize))
	return priv.Public().(ed25519.PublicKey), priv
}

// fuzzPeer is the peer id of a fixed member key.
func fuzzPeer(seed byte) peer.ID {
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, ed25519.SeedSize)))
	if err != nil {
		panic(err)
	}
	id, err := peer.IDFromPrivateKey(k)
	if err != nil {
		panic(err)
	}
	return id
}

// FuzzDecodeHealth decodes arbitrary bytes as a member's gossiped health. What decodes encodes
// within memberlist's metadata limit (shards dropped when they do not fit) and decodes the same.
func FuzzDecodeHealth(f *testing.F) {
	h := Health{Role: RoleEdge, Country: "FR", Version: "1.4.0", Outbox: 2, Overdue: 1, LastCentral: 1700000000, At: 1700000000123,
		Shards: []ShardHealth{{Shard: "europe", Applied: 1234, LagEntries: 3, LagSeconds: 1, Digest: "0123456789ab"}, {Shard: "africa"}}}
	b, _ := EncodeHealth(h, 512)
	f.Add(b)
	f.Add([]byte(`{"r":"central","s":[{"n":"x","a":18446744073709551615,"l":-1}]}`))
	f.Add([]byte(`{"r":"edge","o":1e400}`))
	f.Add([]byte(`{"s":[` + strings.Repeat(`{"n":"europe"},`, 40) + `{}]}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := DecodeHealth(b)
		if err != nil {
			return
		}
		testutil.JSONRoundTrip(t, &h)
		enc, err := EncodeHealth(h, 512)
		if errors.Is(err, ErrHealthTooBig) {
			return // a role, country or version too long for the metadata even without shards
		}
		if err != nil || len(enc) > 512 {
			t.Fatalf("re-encoded in %d bytes: %v", len(enc), err)
		}
		back, err := DecodeHealth(enc)
		if err != nil {
			t.Fatalf("%s does not decode: %v", enc, err)
		}
		if len(h.Shards) == 0 {
			h.Shards = nil // "s":[] is left out when encoded, and reads back as none
		}
		if back.Truncated && !h.Truncated {
			h.Shards, h.Truncated = nil, true // what EncodeHealth does when the shards do not fit
		}
		if !reflect.DeepEqual(back, h) {
			t.Fatalf("%+v comes back as %+v", h, back)
		}
	})
}

// FuzzSignedEntry decodes arbitrary bytes as a signed roster entry (a control admission's blob, a
// line of roster.json) and verifies it against the root key. Nothing panics on the way (multiaddrs,
// peer ids), and an entry that verifies still verifies after a trip through its JSON form.
func FuzzSignedEntry(f *testing.F) {
	pub, priv := fuzzRoot()
	for _, e := range []Entry{
		{PeerID: fuzzPeer(1), Name: "lyon-1", Role: RoleCentral, Shards: []string{AllShards}, Addrs: []string{"/ip4/10.0.0.1/tcp/4001", "/ip4/10.0.0.1/udp/4001/quic-v1"}},
		{PeerID: fuzzPeer(2), Name: "edge-cdg", Role: RoleEdge, Country: "FR", Shards: []string{"europe", "africa"}},
		{PeerID: fuzzPeer(3), Name: "ncb-ke", Role: RoleNCB, Country: "KE", Shards: []string{"africa"},
			Addrs: []string{"/dns4/ncb.example/tcp/4001/p2p/" + fuzzPeer(3).String()}},
	} {
		se, err := SignEntry(priv, e)
		if err != nil {
			f.Fatal(err)
		}
		b, _ := json.Marshal(se)
		f.Add(b)
	}
	f.Add([]byte(`{"entry":{"peer_id":"12D3KooWxxxxxxxx","name":"x","role":"edge","shards":["*","*"],"addrs":["/ip4/1.2.3.4/tcp/99999"]},"signature":"AAAA"}`))
	f.Add([]byte(`{"entry":{"peer_id":"QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N","name":"x","role":"ncb","addrs":["/ip6zone/x/ip6/::1/ipcidr/200"]}}`))
	f.Add([]byte(`{"entry":{"name":"a b\u0000","role":"central","country":"fr","addrs":["/unix/%2F%2Fx","/ip4/1.1.1.1/tcp/1/p2p-circuit/p2p/x"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var se SignedEntry
		if json.Unmarshal(b, &se) != nil {
			return
		}
		_ = se.Entry.Validate()
		_ = se.Entry.AddrInfo()
		_ = se.Entry.Holds("europe")
		if VerifyEntry(pub, se) != nil {
			return
		}
		out, err := json.Marshal(se)
		if err != nil {
			t.Fatal(err)
		}
		var back SignedEntry
		if err := json.Unmarshal(out, &back); err != nil || VerifyEntry(pub, back) != nil {
			t.Fatalf("a verified entry, re-encoded as %s, no longer verifies (%v)", out, err)
		}
		r, err := NewRoster(pub)
		if err != nil {
			t.Fatal(err)
		}
		if err := r.Add(se); err != nil {
			t.Fatalf("a verified entry is refused by the roster: %v", err)
		}
	})
}

// FuzzSignedRevocation decodes arbitrary bytes as a signed revocation (a control revocation's blob)
// and verifies it against the root key. A revocation that verifies still verifies after a trip
// through its JSON form.
func FuzzSignedRevocation(f *testing.F) {
	pub, priv := fuzzRoot()
	sr, err := SignRevocation(priv, Revocation{PeerID: fuzzPeer(2), Name: "edge-cdg", RevokedAt: time.Date(2025, 3, 1, 10, 0, 0, 5, time.UTC), Reason: "stolen at CDG"})
	if err != nil {
		f.Fatal(err)
	}
	b, _ := json.Marshal(sr)
	f.Add(b)
	f.Add([]byte(`{"revocation":{"peer_id":"` + fuzzPeer(2).String() + `","revoked_at":"0001-01-01T00:00:00Z"},"signature":""}`))
	f.Add([]byte(`{"revocation":{"peer_id":"` + fuzzPeer(2).String() + `","revoked_at":"9999-12-31T23:59:59+23:59","reason":"\udfff"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var sr SignedRevocation
		if json.Unmarshal(b, &sr) != nil {
			return
		}
		if VerifyRevocation(pub, sr) != nil {
			return
		}
		out, err := json.Marshal(sr)
		if err != nil {
			t.Fatalf("a verified revocation does not encode: %v", err)
		}
		var back SignedRevocation
		if err := json.Unmarshal(out, &back); err != nil || VerifyRevocation(pub, back) != nil {
			t.Fatalf("a verified revocation, re-encoded as %s, no longer verifies (%v)", out, err)
		}
	})
}

// FuzzRaftHeader reads arbitrary bytes as the group header of an incoming raft stream: any group
// name a layer may have is read back, and nothing is made for a header that does not arrive.
func FuzzRaftHeader(f *testing.F) {
	f.Add(raftHeader("shard-europe"))
	f.Add(raftHeader("control"))
	f.Add(raftHeader(strings.Repeat("g", 255)))
	f.Add([]byte{255, 'a'}) // truncated
	f.Add([]byte{0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		name, err := readRaftHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		if hdr := raftHeader(name); !bytes.Equal(hdr, b[:len(hdr)]) {
			t.Fatalf("header %q read as group %q", b, name)
		}
	})
}

// FuzzGossipPackets reads arbitrary bytes as a gossip packet stream. Packets framed by the sender
// read back as they were, a frame over the limit is refused before anything is made for it, and the
// packets read never hold more than the stream did.
func FuzzGossipPackets(f *testing.F) {
	f.Add(appendPacket(appendPacket(nil, []byte("ping")), make([]byte, 1400)))
	f.Add(appendPacket(nil, nil))
	f.Add(binary.AppendUvarint(nil, maxPacketSize+1))
	f.Add(binary.AppendUvarint(nil, 1<<40))
	f.Add(binary.AppendUvarint(nil, maxPacketSize)) // the largest claim, nothing behind it
	f.Add(bytes.Repeat([]byte{0x80}, 10))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := readPackets(b)
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errPacketTooBig) &&
			!strings.Contains(err.Error(), "overflow") {
			t.Fatalf("unexpected error %v", err)
		}
		total := 0
		for _, p := range got {
			total += len(p)
		}
		if total > len(b) {
			t.Fatalf("%d packet bytes read from %d", total, len(b))
		}
		again, err := readPackets(appendAll(got))
		if !errors.Is(err, io.EOF) || !reflect.DeepEqual(again, got) {
			t.Fatalf("packets %q, framed again, read back as %q (%v)", got, again, err)
		}
	})
}

// readPackets reads packets from b until the first error.
func readPackets(b []byte) ([][]byte, error) {
	r := bufio.NewReader(bytes.NewReader(b))
	var out [][]byte
	for {
		p, err := readPacket(r)
		if err != nil {
			return out, err
		}
		out = append(out, p)
	}
}

func appendAll(ps [][]byte) []byte {
	var out []byte
	for _, p := range ps {
		out = appendPacket(out, p)
	}
	return out
}

// FuzzIdentityKey reads arbitrary bytes as the node's key file. A key that loads is an identity
// whose key file, written again, loads as the same peer id.
func FuzzIdentityKey(f *testing.F) {
	k, err := crypto.UnmarshalEd25519PrivateKey(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, ed25519.SeedSize)))
	if err != nil {
		f.Fatal(err)
	}
	raw, err := crypto.MarshalPrivateKey(k)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(raw)
	f.Add(raw[:len(raw)-5])
	f.Add([]byte{0x08, 0x01, 0x12, 0xff, 0xff, 0xff, 0xff, 0x0f}) // a key length of 4 GiB
	f.Add([]byte{0x08, 0x03, 0x12, 0x00})                         // a secp256k1 key with no bytes
	f.Fuzz(func(t *testing.T, b []byte) {
		priv, err := crypto.UnmarshalPrivateKey(b)
		if err != nil {
			return
		}
		id, err := NewIdentity(priv)
		if err != nil {
			return
		}
		again, err := crypto.MarshalPrivateKey(priv)
		if err != nil {
			return
		}
		priv2, err := crypto.UnmarshalPrivateKey(again)
		if err != nil {
			t.Fatalf("a key that loaded does not load once written again: %v", err)
		}
		id2, err := NewIdentity(priv2)
		if err != nil || id2.ID != id.ID {
			t.Fatalf("peer id %s becomes %s (%v)", id.ID, id2.ID, err)
		}
	})
}

// FuzzRaftRPC reads arbitrary bytes as the raft guard reads an incoming raft stream: one msgpack
// request scanned by its own length prefixes (scanMsgpack), then decoded as raft would
// (decodeRaftRPC). Nothing panics, the scan never takes more than the input nor more than its
// limit, and what decodes names the sender the request carries.
func FuzzRaftRPC(f *testing.F) {
	self, err := peer.Decode("12D3KooWKfRSpX1yQfP8KxvUa6s7zFByRpkc78pcPV9NfjpNMwPV")
	if err != nil {
		f.Fatal(err)
	}
	hdr := raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte("lyon-1"), Addr: []byte(self.String())}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, rq := range []struct {
		t   RaftRPCType
		req any
	}{
		{RaftAppendEntries, &raft.AppendEntriesRequest{RPCHeader: hdr, Term: 7, Leader: hdr.Addr, PrevLogEntry: 41, PrevLogTerm: 6,
			Entries: []*raft.Log{{Index: 42, Term: 7, Type: raft.LogCommand, Data: []byte("cmd"), AppendedAt: at}}, LeaderCommitIndex: 41}},
		{RaftRequestVote, &raft.RequestVoteRequest{RPCHeader: hdr, Term: 8, Candidate: hdr.Addr, LastLogIndex: 42, LastLogTerm: 7}},
		{RaftRequestPreVote, &raft.RequestPreVoteRequest{RPCHeader: hdr, Term: 8, LastLogIndex: 42, LastLogTerm: 7}},
		{RaftInstallSnapshot, &raft.InstallSnapshotRequest{RPCHeader: hdr, Term: 7, Leader: hdr.Addr, LastLogIndex: 42, LastLogTerm: 7, Size: 300}},
		{RaftTimeoutNow, &raft.TimeoutNowRequest{RPCHeader: hdr}},
	} {
		var b bytes.Buffer
		b.WriteByte(byte(rq.t))
		if err := codec.NewEncoder(&b, &codec.MsgpackHandle{}).Encode(rq.req); err != nil {
			f.Fatal(err)
		}
		f.Add(b.Bytes())
	}
	f.Add([]byte{byte(RaftAppendEntries), 0xdb, 0xff, 0xff, 0xff, 0xff}) // a str claiming 4 GiB
	f.Add([]byte{byte(RaftAppendEntries), 0xdd, 0xff, 0xff, 0xff, 0xff}) // an array claiming 4 G items
	const limit = 1 << 20
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		var buf bytes.Buffer
		if err := scanMsgpack(bufio.NewReader(bytes.NewReader(b[1:])), &buf, limit); err != nil {
			return
		}
		if buf.Len() > len(b)-1 || buf.Len() > limit || !bytes.Equal(buf.Bytes(), b[1:1+buf.Len()]) {
			t.Fatalf("scanned %d bytes that are not a prefix of the %d given", buf.Len(), len(b)-1)
		}
		rpc, size, err := decodeRaftRPC(RaftRPCType(b[0]), buf.Bytes())
		if err != nil {
			return
		}
		if size < 0 || rpc.Type != RaftRPCType(b[0]) {
			t.Fatalf("decoded %+v with snapshot size %d", rpc, size)
		}
	})
}
