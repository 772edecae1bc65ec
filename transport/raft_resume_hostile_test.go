package transport

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-msgpack/v2/codec"
	"github.com/hashicorp/raft"
	"github.com/libp2p/go-libp2p/core/network"

	"github.com/fedarms/fedarms/internal/testutil"
)

// rawResume is a hand-written sender on ProtoRaftResume: it writes whatever a test says.
type rawResume struct {
	s  network.Stream
	z  *zstdStream
	in *bufio.Reader
}

func dialRawResume(t *testing.T, l *snapshotLink, group string) *rawResume {
	t.Helper()
	s, err := l.a.host.NewStream(context.Background(), l.b.ident.ID, ProtoRaftResume)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Reset() })
	if _, err := s.Write(raftHeader(group)); err != nil {
		t.Fatal(err)
	}
	z, err := newZstdStream(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	return &rawResume{s: s, z: z, in: bufio.NewReader(z)}
}

// offer sends an InstallSnapshot request of size bytes and its offer, and reads the answer's count.
func (r *rawResume) offer(t *testing.T, a *node, size int64, hash0 [32]byte) uint64 {
	t.Helper()
	req := &raft.InstallSnapshotRequest{RPCHeader: header("a", a.ident.ID), SnapshotVersion: 1, Term: 3,
		LastLogIndex: 5, LastLogTerm: 2, Size: size}
	r.z.Write(append(rpcBytes(t, RaftInstallSnapshot, req), append([]byte{resumeOffer}, hash0[:]...)...))
	r.s.SetReadDeadline(time.Now().Add(5 * time.Second))
	if k, err := r.in.ReadByte(); err != nil || k != resumeAnswer {
		t.Fatalf("answer: %#x, %v", k, err)
	}
	n, err := binary.ReadUvarint(r.in)
	if err != nil {
		t.Fatal(err)
	}
	io.ReadFull(r.in, make([]byte, 32*n))
	return n
}

// refusedAs waits for the receiver to refuse the stream with reason and checks it reset it.
func (r *rawResume) refusedAs(t *testing.T, l *snapshotLink, reason string) {
	t.Helper()
	testutil.WaitFor(t, 5*time.Second, "the refusal "+reason, func() bool { return slices.Contains(l.auth.refused(), reason) })
	r.s.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := io.ReadAll(r.in); !isReset(err) {
		t.Fatalf("sender's stream after the refusal: %v, want a reset", err)
	}
}

// A sender that breaks the exchange is refused (bad_resume) and reset: a chunk skipped that the
// receiver does not hold, more chunks than the size it stated, an end hash that is not the data's.
// Raft completes no snapshot from it.
func TestRaftResumeRefusesBadSenders(t *testing.T) {
	chunk := recordLike(resumeChunk, 3)
	h0 := sha256.Sum256(chunk)
	cases := []struct {
		name  string
		size  int64
		after func(r *rawResume)
	}{
		{"skip not held", 2 * resumeChunk, func(r *rawResume) { r.z.Write([]byte{resumeSkip}) }},
		{"skip past the end", resumeChunk, func(r *rawResume) {
			r.z.Write(append([]byte{resumeData}, chunk...))
			r.z.Write([]byte{resumeSkip})
		}},
		{"more than its size", resumeChunk, func(r *rawResume) {
			r.z.Write(append([]byte{resumeData}, chunk...))
			r.z.Write(append([]byte{resumeData}, chunk...))
		}},
		{"wrong end hash", resumeChunk, func(r *rawResume) {
			r.z.Write(append([]byte{resumeData}, chunk...))
			r.z.Write(append([]byte{resumeEnd}, make([]byte, 32)...))
		}},
		{"unknown record", resumeChunk, func(r *rawResume) { r.z.Write([]byte{'X'}) }},
	}
	for _, c := range cases {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			l := newSnapshotLink(t, "g")
			r := dialRawResume(t, l, "g")
			if n := r.offer(t, l.a, c.size, h0); n != 0 {
				t.Fatalf("a fresh receiver holds %d chunks", n)
			}
			c.after(r)
			r.refusedAs(t, l, "bad_resume")
			l.mu.Lock()
			defer l.mu.Unlock()
			if len(l.digests) != 0 {
				t.Fatal("raft read a whole snapshot from a bad sender")
			}
		})
	}
}

// A sender that states a size far over the cap gets no partial file: nothing is written to disk
// whatever it sends, and the install still streams to raft.
func TestRaftResumeLyingSizeWritesNothing(t *testing.T) {
	l := newSnapshotLink(t, "g")
	r := dialRawResume(t, l, "g")
	chunk := recordLike(resumeChunk, 4)
	if n := r.offer(t, l.a, 1<<40, sha256.Sum256(chunk)); n != 0 {
		t.Fatalf("held %d", n)
	}
	for range 8 {
		r.z.Write(append([]byte{resumeData}, chunk...))
	}
	r.s.CloseWrite()
	st := l.last(t, 1)
	if st.Err == nil || st.Sent != 8*resumeChunk {
		t.Fatalf("transfer: %+v", st)
	}
	if files := l.partials.Files(); len(files) != 0 {
		t.Fatalf("partial files: %v", files)
	}
}

// A receiver that claims more chunks than the snapshot has fails the install on the sender's side;
// the sender sends nothing on its word.
func TestRaftResumeRefusesReceiverClaimingTooMuch(t *testing.T) {
	l := newSnapshotLink(t, "g")
	l.b.host.Unhandle(ProtoRaftResume)
	got := make(chan int64, 1)
	l.b.host.Handle(ProtoRaftResume, func(s network.Stream) {
		defer s.Reset()
		readRaftHeader(s)
		z, _ := newZstdStream(s, nil)
		in := bufio.NewReader(z)
		var req raft.InstallSnapshotRequest
		in.ReadByte()
		if err := codec.NewDecoder(in, &codec.MsgpackHandle{}).Decode(&req); err != nil {
			return
		}
		io.ReadFull(in, make([]byte, 33))
		ans := binary.AppendUvarint([]byte{resumeAnswer}, 1000)
		z.Write(append(ans, make([]byte, 32*1000)...))
		n, _ := io.Copy(io.Discard, in)
		got <- n
	})
	data := recordLike(2*resumeChunk, 5)
	err := l.send(5, data, 0)
	if !errors.Is(err, errBadResume) && (err == nil || !strings.Contains(err.Error(), "claims")) {
		t.Fatalf("install with a receiver claiming 1000 chunks of 2: %v", err)
	}
	select {
	case n := <-got:
		if n > 0 {
			t.Fatalf("sent %d bytes after the bad answer", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the stream stayed open")
	}
}
