package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fedarms/fedarms/internal/record"
	fedtest "github.com/fedarms/fedarms/internal/testutil"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Raft attacks: the attacker (edge-cdg, a non-voter of every group it is in) speaks raft's own wire
// format to the central voters, as hashicorp/raft's NetworkTransport frames it: after the group
// header of /fedarms/raft/1, one byte of rpc type and the msgpack-encoded request (for
// InstallSnapshot, the snapshot's bytes follow). Only voters may send these RPCs, each under its
// own server id and address; everything else is reset before raft reads a byte.

// Raft's rpc type bytes (hashicorp/raft net_transport.go).
const (
	rpcAppendEntries byte = iota
	rpcRequestVote
	rpcInstallSnapshot
	rpcTimeoutNow
	rpcRequestPreVote
)

// raftFrame encodes req as raft's NetworkTransport does on a connection, after the group header
// this federation puts in front of every raft stream; data follows (InstallSnapshot).
func raftFrame(t *testing.T, group string, rpcType byte, req any, data []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	b.WriteByte(byte(len(group)))
	b.WriteString(group)
	b.WriteByte(rpcType)
	mh := &codec.MsgpackHandle{}
	mh.TimeNotBuiltin = true // raft's default (MsgpackUseNewTimeFormat false)
	if err := codec.NewEncoder(&b, mh).Encode(req); err != nil {
		t.Fatal(err)
	}
	b.Write(data)
	return b.Bytes()
}

// header is the RPC header a member named name with peer id p sends.
func (h *hostileFed) header(t *testing.T, name string) raft.RPCHeader {
	t.Helper()
	return raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax, ID: []byte(name),
		Addr: []byte(transport.ServerAddress(h.member(t, name).fed.id.ID))}
}

// raftView is what a raft attack must not move: each central voter's leader and commit index for
// a group. A new term always brings a new leader's no-op entry, so equal commit indexes and
// leaders mean the term did not change.
type raftView map[string]string

func (h *hostileFed) raftView(t *testing.T, group string) raftView {
	t.Helper()
	v := raftView{}
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
		n := h.member(t, name)
		if group == "control" {
			id, _ := n.fed.control.Leader()
			v[name] = string(id) + " applied=" + itoa(n.fed.control.AppliedIndex())
			continue
		}
		st := n.groups[group].Status()
		v[name] = st.Leader + " commit=" + itoa(st.CommitIndex)
	}
	return v
}

func itoa(u uint64) string { return strconv.FormatUint(u, 10) }

// attackTerm is the lowest term an attack claims: far above any a test federation reaches.
const attackTerm = 1 << 20

// term is the raft term member name is in for group.
func (h *hostileFed) term(t *testing.T, name, group string) uint64 {
	t.Helper()
	n := h.member(t, name)
	if group == "control" {
		return n.fed.control.Term()
	}
	return n.groups[group].Term()
}

// raftAttack sends payload from the attacker to lyon-1 on /fedarms/raft/1 and checks the stream
// was refused (reset, no answer), lyon-1 counted and audited a refusal with reason, and nothing
// changed: data, hits, and the leader and commit index of group.
func (h *hostileFed) raftAttack(t *testing.T, group, reason string, payload []byte) {
	t.Helper()
	target := h.member(t, "lyon-1")
	before := h.settled(t)
	view, stable := h.stableView(t, group)
	refusals := testutil.ToFloat64(target.met.refusals.WithLabelValues(transport.ProtoRaft, reason))
	ans, err := h.rawStream(t, "lyon-1", transport.ProtoRaft, payload)
	t.Logf("lyon-1 answered %d bytes %q, error %v", len(ans), truncate(ans, 120), err)
	if err == nil || len(ans) > 0 {
		t.Errorf("the raft stream was not reset: answer %q, error %v", truncate(ans, 120), err)
	}
	h.assertUnchanged(t, before)
	// Had raft seen the attack, its term (every attack claims one from attackTerm up) would be the
	// group's: a term below it on every voter shows raft never read the RPC, however often a loaded
	// machine re-elects by itself.
	for _, name := range []string{"lyon-1", "lyon-2", "lyon-3"} {
		if tm := h.term(t, name, group); tm >= attackTerm {
			t.Errorf("group %s on %s is in term %d, the attacker's", group, name, tm)
		}
	}
	// The leader is compared too, where the machine held it still: it must come back the same.
	var got raftView
	switch {
	case !stable:
		t.Logf("group %s held no leader for 2 s before the attack (a loaded machine): its leader is not compared", group)
	case fedtest.Eventually(15*time.Second, func() bool { got = h.raftView(t, group); return equalView(got, view) }):
	default:
		t.Logf("group %s moved (%v to %v) with every term below the attacker's: the machine re-elected by itself", group, view, got)
	}
	if !fedtest.Eventually(5*time.Second, func() bool {
		return testutil.ToFloat64(target.met.refusals.WithLabelValues(transport.ProtoRaft, reason)) > refusals
	}) {
		t.Errorf("lyon-1 did not count a refusal of raft for %s", reason)
	}
	h.assertAudited(t, target, "edge-cdg", transport.ProtoRaft, reason)
}

// stableView waits (up to 20 s) for a view of group in which every voter knows the leader and
// that holds for 2 s; ok is false when the group never settled so (under -race on a busy machine
// elections come and go by themselves).
func (h *hostileFed) stableView(t *testing.T, group string) (v raftView, ok bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		v = h.raftView(t, group)
		held := true
		for _, s := range v {
			held = held && !strings.HasPrefix(s, " ") // no leader known
		}
		for end := time.Now().Add(2 * time.Second); held && time.Now().Before(end); {
			time.Sleep(100 * time.Millisecond)
			held = equalView(h.raftView(t, group), v)
		}
		if held {
			return v, true
		}
	}
	return v, false
}

func equalView(a, b raftView) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

// poisonEntries are the entries the attacker wants lyon-1 to commit in europe after index last:
// an upsert of a German record under an admin principal, and the delete of a French record.
func poisonEntries(t *testing.T, last, term uint64, frID string) []*raft.Log {
	t.Helper()
	de := frRecord("DE-T-1", "DEX000001")
	de.RecordingCountry = "DE"
	cmds := []replication.Command{
		{Op: replication.OpUpsert, Principal: replication.Principal{Agency: "GS-ADMIN", Admin: true}, Records: []record.Record{de}},
		{Op: replication.OpDelete, Principal: replication.Principal{Agency: "GS-ADMIN", Admin: true}, IDs: []string{frID}},
	}
	var out []*raft.Log
	for i, c := range cmds {
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, &raft.Log{Index: last + 1 + uint64(i), Term: term, Type: raft.LogCommand, Data: b})
	}
	return out
}

func TestHostileRaft(t *testing.T) {
	h := startHostileFed(t)
	lyon1 := h.member(t, "lyon-1")
	if s, _ := lyon1.shardMap.Shard("DE"); s != "europe" {
		t.Fatalf("DE is in shard %q, the attack expects europe", s)
	}
	// The guard refuses nothing of an honest federation: elections, replication to the non-voters
	// and the control group all went through it.
	for name, n := range h.nodes {
		for _, reason := range []string{"not_member", "not_voter", "forged_sender", "bad_rpc", "rpc_too_big", "refused"} {
			if c := testutil.ToFloat64(n.met.refusals.WithLabelValues(transport.ProtoRaft, reason)); c != 0 {
				t.Errorf("%s refused %v honest raft streams or RPCs as %s", name, c, reason)
			}
		}
	}

	// Each attack claims a term far above any the federation reached, also after an earlier attack
	// (which, on a federation without the fix, raised lyon-1's term to its own).
	term := uint64(attackTerm - 1<<20)
	nextTerm := func() uint64 { term += 1 << 20; return term }

	appendEntries := func(t *testing.T, hdr raft.RPCHeader, frID string) []byte {
		last := lyon1.groups["europe"].Status().CommitIndex
		tm := nextTerm()
		req := raft.AppendEntriesRequest{RPCHeader: hdr, Term: tm, Leader: hdr.Addr,
			Entries: poisonEntries(t, last, tm, frID), LeaderCommitIndex: last + 2}
		return raftFrame(t, "shard/europe", rpcAppendEntries, &req, nil)
	}

	t.Run("HostileAppendEntriesAsItself", func(t *testing.T) {
		h.raftAttack(t, "europe", "not_voter", appendEntries(t, h.header(t, "edge-cdg"), "FR-000003"))
	})

	t.Run("HostileAppendEntriesAsLyon2", func(t *testing.T) {
		// The attacker claims to be lyon-2: its server id and address, in the header and in the
		// legacy Leader field.
		h.raftAttack(t, "europe", "not_voter", appendEntries(t, h.header(t, "lyon-2"), "FR-000004"))
	})

	t.Run("HostileRequestVote", func(t *testing.T) {
		hdr := h.header(t, "edge-cdg")
		last := lyon1.groups["europe"].Status().CommitIndex
		req := raft.RequestVoteRequest{RPCHeader: hdr, Term: nextTerm(), Candidate: hdr.Addr,
			LastLogIndex: last + 1000, LastLogTerm: term, LeadershipTransfer: true}
		h.raftAttack(t, "europe", "not_voter", raftFrame(t, "shard/europe", rpcRequestVote, &req, nil))
	})

	t.Run("HostileRequestPreVote", func(t *testing.T) {
		last := lyon1.groups["europe"].Status().CommitIndex
		req := raft.RequestPreVoteRequest{RPCHeader: h.header(t, "edge-cdg"), Term: nextTerm(),
			LastLogIndex: last + 1000, LastLogTerm: term}
		h.raftAttack(t, "europe", "not_voter", raftFrame(t, "shard/europe", rpcRequestPreVote, &req, nil))
	})

	installSnapshot := func(t *testing.T, group string, data []byte) []byte {
		hdr := h.header(t, "edge-cdg")
		var servers []raft.Server
		for _, name := range []string{"lyon-1", "edge-cdg"} {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(name),
				Address: transport.ServerAddress(h.member(t, name).fed.id.ID)})
		}
		req := raft.InstallSnapshotRequest{RPCHeader: hdr, SnapshotVersion: 1, Term: nextTerm(), Leader: hdr.Addr,
			LastLogIndex: 1 << 30, LastLogTerm: term,
			Configuration: raft.EncodeConfiguration(raft.Configuration{Servers: servers}), ConfigurationIndex: 1 << 30,
			Size: int64(len(data))}
		return raftFrame(t, group, rpcInstallSnapshot, &req, data)
	}

	t.Run("HostileInstallSnapshotControl", func(t *testing.T) {
		// An empty control state: no admissions, no revocations.
		members := len(lyon1.fed.control.State().Members)
		h.raftAttack(t, "control", "not_voter", installSnapshot(t, "control", []byte(`{"format":"fedarms-control/1","state":{}}`+"\n")))
		if got := len(lyon1.fed.control.State().Members); got != members {
			t.Errorf("lyon-1's control state holds %d admissions, %d before the attack", got, members)
		}
	})

	t.Run("HostileInstallSnapshotShard", func(t *testing.T) {
		// An empty europe: magic, applied index and term, no records, a zero digest.
		snap := append([]byte("FEDSNAP1"), 0x80, 0x80, 0x80, 0x04, 0x80, 0x80, 0x40, 0)
		snap = append(snap, make([]byte, 32)...)
		h.raftAttack(t, "europe", "not_voter", installSnapshot(t, "shard/europe", snap))
	})

	t.Run("HostileForgedSenderFromAVoter", func(t *testing.T) {
		// A compromised central member gets past the accept check, but may still only speak for
		// itself: lyon-2 sends an AppendEntries naming lyon-3 as the leader.
		lyon2 := h.member(t, "lyon-2")
		before := h.settled(t)
		n0 := testutil.ToFloat64(lyon1.met.refusals.WithLabelValues(transport.ProtoRaft, "forged_sender"))
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s, err := lyon2.fed.host.NewStream(ctx, lyon1.fed.id.ID, transport.ProtoRaft)
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		_ = s.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := s.Write(appendEntries(t, h.header(t, "lyon-3"), "FR-000005")); err != nil {
			t.Fatal(err)
		}
		ans, err := io.ReadAll(s)
		if err == nil || len(ans) > 0 {
			t.Fatalf("lyon-1 answered a forged AppendEntries from lyon-2: %q, %v", ans, err)
		}
		t.Logf("lyon-1 answered %d bytes, error %v", len(ans), err)
		h.assertUnchanged(t, before)
		if !fedtest.Eventually(5*time.Second, func() bool {
			return testutil.ToFloat64(lyon1.met.refusals.WithLabelValues(transport.ProtoRaft, "forged_sender")) > n0
		}) {
			t.Error("lyon-1 did not count the forged sender")
		}
	})

	t.Run("HostileGuardRules", func(t *testing.T) {
		// The authorizer of lyon-1's europe group, asked directly.
		gd := lyon1.fed.shardGuards["europe"]
		id := func(name string) peer.ID { return h.member(t, name).fed.id.ID }
		rpc := func(name string, p peer.ID) transport.RaftRPC {
			return transport.RaftRPC{Type: transport.RaftAppendEntries, ID: name, Addr: string(transport.ServerAddress(p))}
		}
		reason := func(err error) string {
			var r *transport.RaftRefusal
			if errors.As(err, &r) {
				return r.Reason
			}
			return fmt.Sprint(err)
		}
		if err := gd.AuthorizeStream("shard/europe", id("lyon-2")); err != nil {
			t.Errorf("a voter's stream: %v", err)
		}
		for _, name := range []string{"ncb-fr", "edge-cdg", "edge-nbo"} {
			if got := reason(gd.AuthorizeStream("shard/europe", id(name))); got != "not_voter" {
				t.Errorf("stream of %s: %s, want not_voter", name, got)
			}
		}
		_, pub, err := crypto.GenerateEd25519Key(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		outsider, err := peer.IDFromPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		if got := reason(gd.AuthorizeStream("shard/europe", outsider)); got != "not_member" {
			t.Errorf("stream of a non-member: %s, want not_member", got)
		}
		legacy := rpc("lyon-2", id("lyon-2"))
		legacy.Legacy = string(transport.ServerAddress(id("lyon-3")))
		for what, c := range map[string]struct {
			from peer.ID
			rpc  transport.RaftRPC
			want string
		}{
			"own":               {id("lyon-2"), rpc("lyon-2", id("lyon-2")), "<nil>"},
			"another's id":      {id("lyon-2"), rpc("lyon-3", id("lyon-2")), "forged_sender"},
			"another's address": {id("lyon-2"), rpc("lyon-2", id("lyon-3")), "forged_sender"},
			"another's both":    {id("lyon-2"), rpc("lyon-3", id("lyon-3")), "forged_sender"},
			"legacy of another": {id("lyon-2"), legacy, "forged_sender"},
			"empty header":      {id("lyon-2"), transport.RaftRPC{Type: transport.RaftTimeoutNow}, "forged_sender"},
			"edge as itself":    {id("edge-cdg"), rpc("edge-cdg", id("edge-cdg")), "not_voter"},
			"edge as a voter":   {id("edge-cdg"), rpc("lyon-2", id("lyon-2")), "not_voter"},
		} {
			if got := reason(gd.AuthorizeRPC("shard/europe", c.from, c.rpc)); got != c.want {
				t.Errorf("%s: %s, want %s", what, got, c.want)
			}
		}
		// A central member that is not a voter of the group's configuration is refused too.
		gd2 := &raftGuard{f: lyon1.fed}
		gd2.track(fixedServers{{Suffrage: raft.Voter, ID: "lyon-1", Address: transport.ServerAddress(id("lyon-1"))},
			{Suffrage: raft.Nonvoter, ID: "lyon-2", Address: transport.ServerAddress(id("lyon-2"))}})
		for name, want := range map[string]string{"lyon-1": "<nil>", "lyon-2": "not_voter", "lyon-3": "not_voter"} {
			if got := reason(gd2.AuthorizeStream("shard/europe", id(name))); got != want {
				t.Errorf("configuration check, %s: %s, want %s", name, got, want)
			}
		}
	})

	t.Run("HostileTimeoutNow", func(t *testing.T) {
		// TimeoutNow makes a voter start an election at once, whether it follows or leads.
		req := raft.TimeoutNowRequest{RPCHeader: h.header(t, "edge-cdg")}
		h.raftAttack(t, "europe", "not_voter", raftFrame(t, "shard/europe", rpcTimeoutNow, &req, nil))
	})
}

// fixedServers is a raft configuration that never changes.
type fixedServers []raft.Server

func (s fixedServers) Servers() ([]raft.Server, error) { return s, nil }
