package transport

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/hashicorp/memberlist"
)

// ErrHealthTooBig is returned when a health blob does not fit memberlist's node metadata.
var ErrHealthTooBig = errors.New("health does not fit in memberlist node metadata")

// Health is what each member gossips about itself as memberlist node metadata. The JSON keys are
// short because memberlist caps metadata at 512 bytes (memberlist.MetaMaxSize); this is a wire
// format between versions, so keys are only ever added.
type Health struct {
	// Role is the member's role.
	Role Role `json:"r"`
	// Country is the member's country, empty for central nodes.
	Country string `json:"c,omitempty"`
	// Version is the fedarms version the member runs.
	Version string `json:"v,omitempty"`
	// Shards are the member's shards with replication progress.
	Shards []ShardHealth `json:"s,omitempty"`
	// Outbox is the number of notifications waiting for a receipt.
	Outbox int `json:"o"`
	// Overdue is the number of hits the member holds whose decision is past its deadline.
	Overdue int `json:"od,omitempty"`
	// LastCentral is when the member last heard from a central node, in Unix seconds (0: never).
	LastCentral int64 `json:"lc,omitempty"`
	// Truncated is set when Shards was left out to fit the size cap.
	Truncated bool `json:"t,omitempty"`
	// FedShards names, when Shards was left out, the shards the member holds as a fed holder (the
	// Fed flags of Shards), so their leaders still leave it out of the raft groups; left out too
	// if even they do not fit. Older releases ignore the field.
	FedShards []string `json:"fs,omitempty"`
	// Formats are the formats the member reads and writes (EncodeFormats; kept short, since the
	// metadata is capped). A member that publishes none (a release before formats were
	// published) reads and writes format 1 of every kind.
	Formats string `json:"f,omitempty"`
	// At is when the member published this health, in Unix milliseconds. It changes on every
	// refresh, so every refresh reaches the others as a metadata update: a member whose updates
	// stop arriving while memberlist still counts it alive has gone quiet (suspect).
	At int64 `json:"at,omitempty"`
}

// ShardHealth is one shard's replication progress on a member.
type ShardHealth struct {
	// Shard is the shard name.
	Shard string `json:"n"`
	// Applied is the last raft index applied to the member's copy.
	Applied uint64 `json:"a"`
	// LagEntries is how many committed entries the copy is behind the leader (omitted when 0, as
	// a member publishes it: receivers work it out from the others' applied indexes).
	LagEntries uint64 `json:"l,omitempty"`
	// LagSeconds is how long ago the copy was last in contact with the leader.
	LagSeconds int64 `json:"ls"`
	// Digest is the start (12 hex digits) of the copy's content digest, so members can see whether
	// their copies agree without exchanging them.
	Digest string `json:"d,omitempty"`
	// Fed is set when the member holds the shard as a fed holder, outside the raft group: the
	// shard's leader does not add it as a non-voter. Older releases ignore the field.
	Fed bool `json:"f,omitempty"`
}

// EncodeHealth renders h as JSON no longer than limit bytes; when the shard list does not fit it is
// dropped and Truncated set (the names of its fed shards kept in FedShards when they fit), so a
// member with many shards still gossips its role and outbox.
func EncodeHealth(h Health, limit int) ([]byte, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode health: %w", err)
	}
	if len(b) <= limit {
		return b, nil
	}
	for _, s := range h.Shards {
		if s.Fed {
			h.FedShards = append(h.FedShards, s.Shard)
		}
	}
	h.Shards, h.Truncated = nil, true
	if b, err = json.Marshal(h); err != nil {
		return nil, fmt.Errorf("encode health: %w", err)
	}
	if len(b) > limit && h.FedShards != nil {
		h.FedShards = nil
		if b, err = json.Marshal(h); err != nil {
			return nil, fmt.Errorf("encode health: %w", err)
		}
	}
	if len(b) > limit {
		return nil, fmt.Errorf("encode health: %d bytes, limit %d: %w", len(b), limit, ErrHealthTooBig)
	}
	return b, nil
}

// DecodeHealth reads a member's metadata (memberlist.Node.Meta).
func DecodeHealth(meta []byte) (Health, error) {
	var h Health
	if err := json.Unmarshal(meta, &h); err != nil {
		return Health{}, fmt.Errorf("decode health: %w", err)
	}
	return h, nil
}

// HealthDelegate is a memberlist.Delegate that publishes Current() as the node's metadata, signed
// by Identity when set (see EncodeSignedHealth). Call Memberlist.UpdateNode to push a change sooner
// than the next gossip round.
type HealthDelegate struct {
	// Current returns the node's health now; it is called from memberlist's goroutines.
	Current func() Health
	// Identity signs the health; nil publishes it unsigned (as releases before signed health did).
	Identity *Identity
}

var _ memberlist.Delegate = HealthDelegate{}

// NodeMeta is the node's health as JSON within limit; nil if even the short form does not fit.
func (d HealthDelegate) NodeMeta(limit int) []byte {
	if d.Identity != nil {
		b, err := EncodeSignedHealth(d.Current(), d.Identity, limit)
		if err != nil {
			return nil
		}
		return b
	}
	b, err := EncodeHealth(d.Current(), limit)
	if err != nil {
		return nil
	}
	return b
}

// NotifyMsg ignores user messages: fedarms routes messages on its own protocol.
func (HealthDelegate) NotifyMsg([]byte) {}

// GetBroadcasts has nothing to broadcast.
func (HealthDelegate) GetBroadcasts(int, int) [][]byte { return nil }

// LocalState has no push-pull state beyond the metadata.
func (HealthDelegate) LocalState(bool) []byte { return nil }

// MergeRemoteState has nothing to merge.
func (HealthDelegate) MergeRemoteState([]byte, bool) {}
