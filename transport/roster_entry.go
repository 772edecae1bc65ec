package transport

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Roster errors, for callers to tell a forged entry from a malformed one with errors.Is.
var (
	ErrInvalidEntry = errors.New("invalid roster entry")
	ErrUnsigned     = errors.New("roster entry is not signed")
	ErrBadSignature = errors.New("roster entry signature does not verify against the federation root key")
	// ErrStaleEntry means an entry is not newer (by serial) than the member's entry in force: a
	// replay of an entry the General Secretariat has since replaced.
	ErrStaleEntry = errors.New("roster entry is not newer than the member's entry in force")
)

// Role is what a member does in the federation (see ARCHITECTURE.md, Roles).
type Role string

// The roles a roster entry may carry.
const (
	RoleCentral Role = "central"
	RoleNCB     Role = "ncb"
	RoleEdge    Role = "edge"
)

// AllShards in an entry's Shards means the member holds every shard.
const AllShards = "*"

// Entry is one member of the federation, as the General Secretariat admits it.
type Entry struct {
	// PeerID is the member's libp2p identity; the gater admits connections by it.
	PeerID peer.ID `json:"peer_id"`
	// Name is the operator-facing name, such as "lyon-1".
	Name string `json:"name"`
	// Role is central, ncb or edge.
	Role Role `json:"role"`
	// Country is the ISO 3166-1 alpha-2 code of the member's country (empty for central nodes).
	Country string `json:"country,omitempty"`
	// Shards the member holds, or ["*"] for all of them.
	Shards []string `json:"shards"`
	// Addrs are multiaddrs where the member listens; empty for a member that can only dial out.
	Addrs []string `json:"addrs,omitempty"`
	// Serial orders the entries the root key signs for one member: each new entry for a member
	// (another role, other shards, new addresses) carries a higher one, and an entry never replaces
	// one with a higher serial. `fedarms federation sign` uses the signing time in Unix seconds
	// unless told otherwise. 0 (absent) is an entry signed before entries carried serials: the
	// oldest of all, whose signed bytes are exactly what that release signed.
	Serial uint64 `json:"serial,omitempty"`
}

// SignedEntry is an Entry with the root key's signature over its canonical encoding.
type SignedEntry struct {
	// Entry is the signed content.
	Entry Entry `json:"entry"`
	// Signature is Ed25519 over CanonicalBytes(Entry) by the federation root key.
	Signature []byte `json:"signature"`
}

// GenerateRootKey makes the federation's root key pair (what `fedarms federation init` keeps).
func GenerateRootKey() (ed25519.PublicKey, ed25519.PrivateKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate root key: %w", err)
	}
	return pub, priv, nil
}

// FormatRootPub renders a root public key for config files: "ed25519:" and standard base64.
func FormatRootPub(pub ed25519.PublicKey) string {
	return "ed25519:" + base64.StdEncoding.EncodeToString(pub)
}

// ParseRootPub reads what FormatRootPub writes.
func ParseRootPub(s string) (ed25519.PublicKey, error) {
	rest, ok := strings.CutPrefix(s, "ed25519:")
	if !ok {
		return nil, fmt.Errorf("root key %q: want the form ed25519:<base64>", s)
	}
	raw, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		return nil, fmt.Errorf("root key: %w", err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return nil, fmt.Errorf("root key: %d bytes, want %d", len(raw), ed25519.PublicKeySize)
	}
	return ed25519.PublicKey(raw), nil
}

// SignEntry validates e and signs its canonical encoding with the root key.
func SignEntry(rootPriv ed25519.PrivateKey, e Entry) (SignedEntry, error) {
	if len(rootPriv) != ed25519.PrivateKeySize {
		return SignedEntry{}, fmt.Errorf("sign entry: root key has %d bytes, want %d", len(rootPriv), ed25519.PrivateKeySize)
	}
	msg, err := CanonicalBytes(e)
	if err != nil {
		return SignedEntry{}, fmt.Errorf("sign entry: %w", err)
	}
	return SignedEntry{Entry: e, Signature: ed25519.Sign(rootPriv, msg)}, nil
}

// VerifyEntry accepts se only if its entry is well formed and the root key signed exactly it.
func VerifyEntry(rootPub ed25519.PublicKey, se SignedEntry) error {
	if len(rootPub) != ed25519.PublicKeySize {
		return fmt.Errorf("verify entry: root key has %d bytes, want %d", len(rootPub), ed25519.PublicKeySize)
	}
	if len(se.Signature) == 0 {
		return fmt.Errorf("verify entry %s: %w", se.Entry.Name, ErrUnsigned)
	}
	msg, err := CanonicalBytes(se.Entry)
	if err != nil {
		return fmt.Errorf("verify entry: %w", err)
	}
	if !ed25519.Verify(rootPub, msg, se.Signature) {
		return fmt.Errorf("verify entry %s (%s): %w", se.Entry.Name, se.Entry.PeerID, ErrBadSignature)
	}
	return nil
}

// entryDomain separates roster signatures from anything else the root key might ever sign.
const entryDomain = "fedarms/roster-entry/v1\x00"

// CanonicalBytes is the byte string a roster signature covers. It is deliberately not JSON (whose
// key order, escaping and number forms vary between encoders): a domain prefix, then each field as
// uvarint length + bytes in a fixed order (peer id bytes, name, role, country), then the shards
// and the binary multiaddrs, each as a uvarint count followed by sorted length-prefixed items.
// Shards and addrs are sets, so their order in the Entry does not change the signature.
//
// A serial, when set, follows as the tag byte entrySerialTag and the serial as a uvarint. Without
// one nothing follows, so an entry without a serial signs exactly the bytes the release before
// serials signed, and its signature still verifies. The fields before it delimit themselves, so no
// entry with a serial encodes to the bytes of one without.
func CanonicalBytes(e Entry) ([]byte, error) {
	if err := e.Validate(); err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString(entryDomain)
	putBytes(&b, []byte(e.PeerID))
	putBytes(&b, []byte(e.Name))
	putBytes(&b, []byte(e.Role))
	putBytes(&b, []byte(e.Country))
	putSet(&b, e.Shards, func(s string) []byte { return []byte(s) })
	putSet(&b, e.Addrs, func(s string) []byte { return ma.StringCast(s).Bytes() })
	if e.Serial > 0 {
		b.WriteByte(entrySerialTag)
		b.Write(binary.AppendUvarint(nil, e.Serial))
	}
	return b.Bytes(), nil
}

// entrySerialTag introduces the serial in an entry's canonical bytes; later optional fields get
// the next tags, in increasing order.
const entrySerialTag = 1

// Supersedes reports whether e may replace old as a member's entry in force: only an entry with a
// higher serial does. Two entries without serials (signed before entries carried them) are equal
// in age, so neither supersedes the other.
func (e Entry) Supersedes(old Entry) bool { return e.Serial > old.Serial }

func putBytes(b *bytes.Buffer, p []byte) {
	b.Write(binary.AppendUvarint(nil, uint64(len(p))))
	b.Write(p)
}

func putSet(b *bytes.Buffer, items []string, enc func(string) []byte) {
	encoded := make([][]byte, len(items))
	for i, s := range items {
		encoded[i] = enc(s)
	}
	slices.SortFunc(encoded, bytes.Compare)
	b.Write(binary.AppendUvarint(nil, uint64(len(encoded))))
	for _, p := range encoded {
		putBytes(b, p)
	}
}

// Validate reports the first thing wrong with e, naming the field.
func (e Entry) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidEntry, fmt.Sprintf(format, args...))
	}
	if err := e.PeerID.Validate(); err != nil {
		return bad("peer_id: %v", err)
	}
	pub, err := e.PeerID.ExtractPublicKey()
	if err != nil || pub.Type() != crypto.Ed25519 {
		return bad("peer_id %s: not an Ed25519 identity", e.PeerID)
	}
	if e.Name == "" || len(e.Name) > 64 || strings.IndexFunc(e.Name, func(r rune) bool { return !unicode.IsPrint(r) || r == ' ' }) >= 0 {
		return bad("name %q: want 1-64 printable characters without spaces", e.Name)
	}
	switch e.Role {
	case RoleCentral, RoleNCB, RoleEdge:
	default:
		return bad("role %q: want central, ncb or edge", e.Role)
	}
	if e.Country != "" && !isAlpha2(e.Country) {
		return bad("country %q: want an ISO 3166-1 alpha-2 code such as FR", e.Country)
	}
	if e.Role == RoleNCB && e.Country == "" {
		return bad("country: required for an ncb member")
	}
	if err := validateShards(e.Shards); err != nil {
		return bad("%v", err)
	}
	seen := map[string]bool{}
	for _, s := range e.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			return bad("addrs: %q: %v", s, err)
		}
		if _, id := peer.SplitAddr(a); id != "" && id != e.PeerID {
			return bad("addrs: %q names another peer", s)
		}
		if seen[string(a.Bytes())] {
			return bad("addrs: %q listed twice", s)
		}
		seen[string(a.Bytes())] = true
	}
	return nil
}

func validateShards(shards []string) error {
	seen := map[string]bool{}
	for _, s := range shards {
		if s == "" || len(s) > 64 {
			return fmt.Errorf("shards: %q: want 1-64 characters", s)
		}
		if s == AllShards && len(shards) > 1 {
			return fmt.Errorf("shards: %q must stand alone", AllShards)
		}
		if seen[s] {
			return fmt.Errorf("shards: %q listed twice", s)
		}
		seen[s] = true
	}
	return nil
}

func isAlpha2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}

// Holds reports whether the member holds shard.
func (e Entry) Holds(shard string) bool {
	return slices.Contains(e.Shards, AllShards) || slices.Contains(e.Shards, shard)
}

// AddrInfo is the member's dialable addresses as libp2p wants them (unparseable ones are skipped;
// Validate refuses them anyway).
func (e Entry) AddrInfo() peer.AddrInfo {
	ai := peer.AddrInfo{ID: e.PeerID}
	for _, s := range e.Addrs {
		a, err := ma.NewMultiaddr(s)
		if err != nil {
			continue
		}
		if t, _ := peer.SplitAddr(a); t != nil {
			ai.Addrs = append(ai.Addrs, t)
		}
	}
	return ai
}
