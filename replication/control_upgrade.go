package replication

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// An upgrade is finalized in the control group: one command, ordered by an operator once every
// member reports that it reads the new formats, records for the whole federation which formats may
// be written from now on. Until then a release writes the formats every member reads. The record
// only moves forward: a format once finalized stays finalized.
//
// Control commands carry the control format they need (ControlCommand.Format; absent is format 1,
// admit and revoke). A replica that meets a command of a control format it does not read halts
// the control group, as a shard halts on a command format it does not read: skipping it would
// leave its control state different from the others' for good. The release before this one
// (which had no such field) refuses an unknown op as an item instead; that is why finalize is
// allowed only once every member, voters included, reports reading control format 2.

// ControlFinalize records that the formats named in its blob may be written.
const ControlFinalize ControlOp = "finalize_upgrade"

// Control formats.
const (
	// controlFormatLegacy is admit and revoke: what every release reads.
	controlFormatLegacy = 1
	// controlFormatUpgrade adds ControlFinalize.
	controlFormatUpgrade = 2
	// ControlFormatNewest is the newest control format this release reads.
	ControlFormatNewest = controlFormatUpgrade
	// ControlFormatFinalize is the control format of a ControlFinalize command: every member must
	// read it before one is ordered.
	ControlFormatFinalize = controlFormatUpgrade
)

// ControlUpgrade is the finalized upgrade as the control state holds it.
type ControlUpgrade struct {
	// Formats are the newest format of each kind ("raft_command", ...) that may be written.
	Formats map[string]int `json:"formats"`
	// Release is the release of the node that ordered the last finalize (for operators).
	Release string `json:"release,omitempty"`
	// Index is the control log index of the last finalize that changed Formats.
	Index uint64 `json:"index,omitempty"`
}

// finalizeRequest is the blob of a ControlFinalize command.
type finalizeRequest struct {
	Formats map[string]int `json:"formats"`
	Release string         `json:"release,omitempty"`
}

var keyUpgrade = []byte("upgrade")

// Finalize orders the record that formats may be written. release names the ordering node's
// release. Formats already finalized at or above the asked value are unchanged.
func (c *Control) Finalize(ctx context.Context, formats map[string]int, release string) (ControlResult, error) {
	cmd, err := FinalizeCommand(formats, release)
	if err != nil {
		return ControlResult{}, err
	}
	return c.Apply(ctx, cmd)
}

// FinalizeCommand is the control command that records formats as finalized (for a node that
// forwards it to the control leader); release names the ordering node's release.
func FinalizeCommand(formats map[string]int, release string) (ControlCommand, error) {
	blob, err := json.Marshal(finalizeRequest{Formats: formats, Release: release})
	if err != nil {
		return ControlCommand{}, fmt.Errorf("control: %w", err)
	}
	return ControlCommand{Op: ControlFinalize, Blob: blob, Format: controlFormatUpgrade}, nil
}

// Upgrade is the finalized upgrade in force (Formats empty: nothing finalized yet).
func (c *Control) Upgrade() ControlUpgrade { return c.store.upgradeState() }

// decideFinalize is decide for ControlFinalize: it depends only on the state and the command.
func (s *controlStore) decideFinalize(cmd ControlCommand) (ControlChange, bool, error) {
	c := ControlChange{Op: cmd.Op, Blob: cmd.Blob}
	var req finalizeRequest
	if err := json.Unmarshal(cmd.Blob, &req); err != nil {
		return c, false, fmt.Errorf("%w: finalize: %w", ErrControlRefused, err)
	}
	if len(req.Formats) == 0 {
		return c, false, fmt.Errorf("%w: finalize names no format", ErrControlRefused)
	}
	next := maps.Clone(s.upgrade.Formats)
	if next == nil {
		next = map[string]int{}
	}
	changed := false
	for kind, f := range req.Formats {
		if kind == "" || len(kind) > 64 || f < 1 {
			return c, false, fmt.Errorf("%w: finalize: format %q %d", ErrControlRefused, kind, f)
		}
		if f > next[kind] {
			next[kind], changed = f, true
		}
	}
	c.Upgrade = &ControlUpgrade{Formats: next, Release: req.Release}
	return c, changed, nil
}

// putUpgrade stores the finalized upgrade in the meta bucket.
func putUpgrade(meta *bolt.Bucket, u ControlUpgrade) error {
	if len(u.Formats) == 0 {
		return meta.Delete(keyUpgrade)
	}
	v, err := json.Marshal(u)
	if err != nil {
		return err
	}
	return meta.Put(keyUpgrade, v)
}

// readUpgrade reads the finalized upgrade from the meta bucket (nil: none).
func readUpgrade(meta *bolt.Bucket) (*ControlUpgrade, error) {
	if meta == nil {
		return nil, nil
	}
	v := meta.Get(keyUpgrade)
	if v == nil {
		return nil, nil
	}
	var u ControlUpgrade
	if err := json.Unmarshal(v, &u); err != nil {
		return nil, fmt.Errorf("upgrade: %w", err)
	}
	return &u, nil
}

func (s *controlStore) upgradeState() ControlUpgrade {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.upgrade
	u.Formats = maps.Clone(u.Formats)
	return u
}

// mergeUpgrade is the finalized upgrade after restoring a snapshot: each format at the higher of
// this node's and the snapshot's, since a finalize is never undone.
func mergeUpgrade(cur, snap *ControlUpgrade) *ControlUpgrade {
	if cur == nil && snap == nil {
		return nil
	}
	out := &ControlUpgrade{Formats: map[string]int{}}
	for _, u := range []*ControlUpgrade{cur, snap} {
		if u == nil {
			continue
		}
		for k, f := range u.Formats {
			if k != "" && f > out.Formats[k] {
				out.Formats[k] = f
			}
		}
		if u.Index >= out.Index {
			out.Index, out.Release = u.Index, u.Release
		}
	}
	return out
}

// haltOnFormat halts the control group on an entry of a control format this release does not
// read, until the group closes (a restart on a release that reads it replays the entry). It
// reports whether it halted; the entry is then not applied.
func (f *controlFSM) haltOnFormat(l *raft.Log, cmd ControlCommand) bool {
	if cmd.Format <= ControlFormatNewest {
		return false
	}
	reason := fmt.Sprintf("control entry %d is in control format %d (op %q); this release reads control formats %d to %d: restart this node with a release that reads control format %d",
		l.Index, cmd.Format, cmd.Op, controlFormatLegacy, ControlFormatNewest, cmd.Format)
	f.halt.set(reason, l.Index, time.Now())
	f.log.Error("control group halted: entry of a newer control format", "index", l.Index, "format", cmd.Format, "op", cmd.Op)
	for f.halt.wait(5 * time.Second) {
		f.halt.handOffLeadership()
	}
	return true
}
