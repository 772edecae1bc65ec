package transport

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"testing"
)

// gcmSealer seals as a data key does: nonce | AES-GCM(plain, ad).
type gcmSealer struct{ aead cipher.AEAD }

func newGCMSealer(t *testing.T) gcmSealer {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		t.Fatal(err)
	}
	return gcmSealer{aead}
}

func (g gcmSealer) overhead() int { return g.aead.NonceSize() + g.aead.Overhead() }

func (g gcmSealer) Seal(dst, ad, plain []byte) []byte {
	nonce := make([]byte, g.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return g.aead.Seal(append(dst, nonce...), nonce, plain, ad)
}

func (g gcmSealer) Open(dst, ad, sealed []byte) ([]byte, error) {
	n := g.aead.NonceSize()
	if len(sealed) < n {
		return nil, errors.New("short")
	}
	return g.aead.Open(dst, sealed[:n], sealed[n:], ad)
}

// On a data dir encrypted at rest, a partial snapshot holds none of the snapshot's bytes in clear,
// and a cut transfer still resumes from it.
func TestRaftResumeSealedPartialHoldsNothingInClear(t *testing.T) {
	l := newSnapshotLink(t, "shard/europe")
	g := newGCMSealer(t)
	l.partials.SealWith(g, g.overhead())
	data := recordLike(2<<20, 11)
	path := cutPartial(t, l, 60, data)
	held, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range []int{0, 300 << 10, len(data) / 2} {
		if bytes.Contains(held, data[off:off+48]) {
			t.Fatalf("the partial file holds snapshot bytes at %d in clear", off)
		}
	}
	if err := l.send(60, data, 0); err != nil {
		t.Fatal(err)
	}
	st := l.last(t, 2)
	if st.Err != nil || st.Resumed < int64(len(data))*9/10-3*resumeChunk {
		t.Fatalf("second transfer did not resume from the sealed file: %+v", st)
	}
	if l.digest(t, 1) != sha256.Sum256(data) {
		t.Fatal("raft read another snapshot than the one sent")
	}
}
