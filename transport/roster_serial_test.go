package transport

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// testdata/entry-before-serials.json was signed by the release before entries carried serials,
// with the root key whose seed is the bytes 0..31.
func TestEntrySignedBeforeSerialsStillVerifies(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	for i := range seed {
		seed[i] = byte(i)
	}
	rootPriv := ed25519.NewKeyFromSeed(seed)
	rootPub := rootPriv.Public().(ed25519.PublicKey)
	raw, err := os.ReadFile("testdata/entry-before-serials.json")
	if err != nil {
		t.Fatal(err)
	}
	var se SignedEntry
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&se); err != nil {
		t.Fatal(err)
	}
	if err := VerifyEntry(rootPub, se); err != nil {
		t.Fatalf("an entry of the last release no longer verifies: %v", err)
	}
	if se.Entry.Serial != 0 {
		t.Fatalf("serial %d, want 0", se.Entry.Serial)
	}
	// Signed again today without a serial, it is the same signature (Ed25519 is deterministic)
	// and the same JSON: no "serial" key.
	again, err := SignEntry(rootPriv, se.Entry)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again.Signature, se.Signature) {
		t.Fatal("the bytes signed for an entry without a serial changed")
	}
	if b, _ := json.Marshal(again); strings.Contains(string(b), "serial") {
		t.Fatalf("an entry without a serial encodes one: %s", b)
	}
}

func TestSerialIsSigned(t *testing.T) {
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	e := validEntry(t)
	e.Serial = 7
	se, err := SignEntry(priv, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEntry(pub, se); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(se)
	if !strings.Contains(string(b), `"serial":7`) {
		t.Fatalf("serial not in the JSON: %s", b)
	}
	var back SignedEntry
	if err := json.Unmarshal(b, &back); err != nil || VerifyEntry(pub, back) != nil || back.Entry.Serial != 7 {
		t.Fatalf("round trip: %+v %v", back, err)
	}
	// Raising, lowering or dropping the serial after signing breaks the signature: a member cannot
	// make its old entry look new, nor a new one look old.
	for _, serial := range []uint64{0, 6, 8, 1 << 40} {
		forged := edited(se, func(e *Entry) { e.Serial = serial })
		if err := VerifyEntry(pub, forged); !errors.Is(err, ErrBadSignature) {
			t.Fatalf("serial edited to %d: %v, want ErrBadSignature", serial, err)
		}
	}
	// Different serials, different bytes; no serial, the bytes of the release before serials.
	withOut := e
	withOut.Serial = 0
	a, _ := CanonicalBytes(e)
	z, _ := CanonicalBytes(withOut)
	if bytes.Equal(a, z) || !bytes.HasPrefix(a, z) {
		t.Fatal("the serial must follow the fields of the entry without one")
	}
}

func TestEntrySupersedes(t *testing.T) {
	at := func(s uint64) Entry { return Entry{Serial: s} }
	for _, tc := range []struct {
		newer, old uint64
		want       bool
	}{{2, 1, true}, {1, 0, true}, {1, 1, false}, {0, 0, false}, {0, 3, false}, {2, 3, false}} {
		if got := at(tc.newer).Supersedes(at(tc.old)); got != tc.want {
			t.Errorf("serial %d supersedes %d: %v, want %v", tc.newer, tc.old, got, tc.want)
		}
	}
}

func TestRosterKeepsTheNewerEntry(t *testing.T) {
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewRoster(pub)
	if err != nil {
		t.Fatal(err)
	}
	e := validEntry(t)
	sign := func(serial uint64, shards ...string) SignedEntry {
		e := e
		e.Serial, e.Shards = serial, shards
		se, err := SignEntry(priv, e)
		if err != nil {
			t.Fatal(err)
		}
		return se
	}
	if err := r.Add(sign(0, "europe")); err != nil {
		t.Fatal(err)
	}
	if err := r.Add(sign(5, "europe", "africa")); err != nil {
		t.Fatalf("a newer entry: %v", err)
	}
	for _, old := range []SignedEntry{sign(0, "europe"), sign(4, "mena")} {
		if err := r.Add(old); !errors.Is(err, ErrStaleEntry) {
			t.Fatalf("an older entry (serial %d): %v, want ErrStaleEntry", old.Entry.Serial, err)
		}
	}
	if got, _ := r.Get(e.PeerID); got.Serial != 5 || len(got.Shards) != 2 {
		t.Fatalf("entry in force %+v, want serial 5", got)
	}
	// The same serial again replaces, as entries without serials always did.
	if err := r.Add(sign(5, "europe")); err != nil {
		t.Fatalf("an entry of equal serial: %v", err)
	}
}
