package transport

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
)

func validEntry(t *testing.T) Entry {
	t.Helper()
	return Entry{PeerID: newTestIdentity(t).ID, Name: "ncb-fr", Role: RoleNCB, Country: "FR",
		Shards: []string{"europe", "africa"}, Addrs: []string{"/ip4/192.0.2.1/tcp/4001", "/ip4/192.0.2.1/udp/4001/quic-v1"}}
}

func TestEntryValidate(t *testing.T) {
	other := newTestIdentity(t).ID
	for _, tc := range []struct {
		name string
		edit func(*Entry)
		ok   bool
	}{
		{"valid ncb", func(*Entry) {}, true},
		{"central without country", func(e *Entry) { e.Role, e.Country, e.Shards = RoleCentral, "", []string{AllShards} }, true},
		{"edge without addrs", func(e *Entry) { e.Role, e.Addrs = RoleEdge, nil }, true},
		{"empty peer id", func(e *Entry) { e.PeerID = "" }, false},
		{"garbage peer id", func(e *Entry) { e.PeerID = "xyz" }, false},
		{"empty name", func(e *Entry) { e.Name = "" }, false},
		{"name with space", func(e *Entry) { e.Name = "ncb fr" }, false},
		{"unknown role", func(e *Entry) { e.Role = "admin" }, false},
		{"ncb without country", func(e *Entry) { e.Country = "" }, false},
		{"lowercase country", func(e *Entry) { e.Country = "fr" }, false},
		{"alpha-3 country", func(e *Entry) { e.Country = "FRA" }, false},
		{"star with others", func(e *Entry) { e.Shards = []string{AllShards, "europe"} }, false},
		{"duplicate shard", func(e *Entry) { e.Shards = []string{"europe", "europe"} }, false},
		{"empty shard", func(e *Entry) { e.Shards = []string{""} }, false},
		{"bad addr", func(e *Entry) { e.Addrs = []string{"192.0.2.1:4001"} }, false},
		{"duplicate addr", func(e *Entry) { e.Addrs = []string{"/ip4/192.0.2.1/tcp/1", "/ip4/192.0.2.1/tcp/1"} }, false},
		{"addr of another peer", func(e *Entry) { e.Addrs = []string{"/ip4/192.0.2.1/tcp/1/p2p/" + other.String()} }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := validEntry(t)
			tc.edit(&e)
			err := e.Validate()
			if tc.ok && err != nil {
				t.Fatalf("refused a valid entry: %v", err)
			}
			if !tc.ok && !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("err %v, want ErrInvalidEntry", err)
			}
		})
	}
}

func TestSignAndVerifyEntry(t *testing.T) {
	pub, priv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	otherPub, otherPriv, err := GenerateRootKey()
	if err != nil {
		t.Fatal(err)
	}
	e := validEntry(t)
	se, err := SignEntry(priv, e)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyEntry(pub, se); err != nil {
		t.Fatalf("genuine entry refused: %v", err)
	}
	forgedBy, _ := SignEntry(otherPriv, e)
	if _, err := SignEntry(priv, Entry{}); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("signed an invalid entry: %v", err)
	}
	for _, tc := range []struct {
		name string
		key  []byte
		se   SignedEntry
		want error
	}{
		{"wrong root", otherPub, se, ErrBadSignature},
		{"signed by another root", pub, forgedBy, ErrBadSignature},
		{"unsigned", pub, SignedEntry{Entry: e}, ErrUnsigned},
		{"name changed", pub, edited(se, func(e *Entry) { e.Name = "ncb-de" }), ErrBadSignature},
		{"role raised", pub, edited(se, func(e *Entry) { e.Role = RoleCentral }), ErrBadSignature},
		{"country changed", pub, edited(se, func(e *Entry) { e.Country = "DE" }), ErrBadSignature},
		{"shard added", pub, edited(se, func(e *Entry) { e.Shards = append(e.Shards, "asia") }), ErrBadSignature},
		{"addr swapped", pub, edited(se, func(e *Entry) { e.Addrs[0] = "/ip4/198.51.100.7/tcp/4001" }), ErrBadSignature},
		{"peer id swapped", pub, edited(se, func(e *Entry) { e.PeerID = newTestIdentity(t).ID }), ErrBadSignature},
		{"signature truncated", pub, SignedEntry{Entry: e, Signature: se.Signature[:10]}, ErrBadSignature},
		{"made invalid", pub, edited(se, func(e *Entry) { e.Role = "root" }), ErrInvalidEntry},
	} {
		if err := VerifyEntry(tc.key, tc.se); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := VerifyEntry(pub[:5], se); err == nil {
		t.Error("verified with a short root key")
	}
}

func edited(se SignedEntry, edit func(*Entry)) SignedEntry {
	se = cloneSigned(se)
	edit(&se.Entry)
	return se
}

// Shards and addrs are sets: reordering them keeps the signature, and length prefixes keep
// neighbouring items from running into each other.
func TestCanonicalBytes(t *testing.T) {
	e := validEntry(t)
	base, err := CanonicalBytes(e)
	if err != nil {
		t.Fatal(err)
	}
	reordered := cloneEntry(e)
	reordered.Shards = []string{"africa", "europe"}
	reordered.Addrs = []string{e.Addrs[1], e.Addrs[0]}
	if got, _ := CanonicalBytes(reordered); !bytes.Equal(got, base) {
		t.Fatal("reordering shards or addrs changed the canonical bytes")
	}
	ab := cloneEntry(e)
	ab.Shards = []string{"ab", "c"}
	abc := cloneEntry(e)
	abc.Shards = []string{"a", "bc"}
	x, _ := CanonicalBytes(ab)
	y, _ := CanonicalBytes(abc)
	if bytes.Equal(x, y) {
		t.Fatal("shard boundaries are ambiguous in the canonical bytes")
	}
	if !bytes.HasPrefix(base, []byte(entryDomain)) {
		t.Fatal("canonical bytes lack the domain prefix")
	}
	// The same root key signing anything else cannot produce a roster signature: the domain
	// prefix is part of every signed message.
	if _, err := CanonicalBytes(Entry{}); !errors.Is(err, ErrInvalidEntry) {
		t.Fatalf("canonical bytes of an invalid entry: %v", err)
	}
}

// A signed entry survives JSON (how the control group will carry it) and still verifies.
func TestSignedEntryJSONRoundTrip(t *testing.T) {
	pub, priv, _ := GenerateRootKey()
	se, err := SignEntry(priv, validEntry(t))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(se)
	if err != nil {
		t.Fatal(err)
	}
	var back SignedEntry
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if err := VerifyEntry(pub, back); err != nil {
		t.Fatalf("entry after JSON: %v\n%s", err, raw)
	}
}

func TestRootPubText(t *testing.T) {
	pub, _, _ := GenerateRootKey()
	got, err := ParseRootPub(FormatRootPub(pub))
	if err != nil || !bytes.Equal(got, pub) {
		t.Fatalf("round trip: %v", err)
	}
	for _, bad := range []string{"", "ed25519:", "ed25519:!!!", "rsa:AAAA", "ed25519:AAAA"} {
		if _, err := ParseRootPub(bad); err == nil {
			t.Errorf("parsed %q", bad)
		}
	}
}
