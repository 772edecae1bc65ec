package node

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fedarms/fedarms/internal/auth"
	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// A rolling upgrade: every node publishes the formats it reads and writes in its gossiped health;
// a newer format that older releases cannot read (raft command format 2) is held back until an
// operator finalizes the upgrade, which the control group records for the whole federation, and
// finalize runs only once every member reports it reads that format. A node then writes the newest
// format finalized that its release writes (syncWriteFormats).

// finalizeTarget is what finalize would record: each held-back kind at the newest format this
// release writes, where that is newer than what is finalized.
func finalizeTarget(finalized map[string]int) map[string]int {
	out := map[string]int{}
	for _, k := range formatKinds {
		if k.heldBack && k.newest > max(finalized[k.name], 1) {
			out[k.name] = k.newest
		}
	}
	return out
}

// UpgradeStatus reports the formats in use, which member reads what, and whether finalize can run
// (GET /v1/federation/upgrade). A member not heard from blocks it: nothing says what it reads.
func (n *Node) UpgradeStatus() wire.UpgradeStatus {
	st := wire.UpgradeStatus{Release: Version, Finalized: map[string]int{}, Members: []wire.UpgradeMember{}, Blockers: []string{}}
	if n.fed != nil {
		u := n.fed.control.Upgrade()
		if u.Formats != nil {
			st.Finalized = u.Formats
		}
		st.FinalizedIndex, st.FinalizedBy = u.Index, u.Release
	}
	target := finalizeTarget(st.Finalized)
	for _, k := range formatKinds {
		st.Formats = append(st.Formats, wire.UpgradeFormat{Kind: k.name, Writes: n.formatWritten(k), Newest: k.newest,
			Finalized: st.Finalized[k.name], HeldBack: target[k.name] > 0})
	}
	for _, m := range n.Members() {
		um := wire.UpgradeMember{Name: m.Name, Role: m.Role, Status: m.Status, Version: m.Version, Formats: m.Formats,
			FormatsReported: m.FormatsReported}
		um.Blocks = upgradeBlock(m, target)
		um.Ready = um.Blocks == ""
		if !um.Ready && len(target) > 0 {
			st.Blockers = append(st.Blockers, fmt.Sprintf("%s (%s): %s", m.Name, orNone(m.Version), um.Blocks))
		}
		st.Members = append(st.Members, um)
	}
	switch {
	case n.fed == nil:
		st.Next = "a one-node federation has no members to wait for and no control group to record an upgrade in: it writes the formats every release reads"
	case len(target) == 0:
		st.Next = "nothing to finalize: every format this release writes is finalized"
	case len(st.Blockers) > 0:
		st.Next = "upgrade the members named in blockers (or wait until they are heard from), then run: fedarms federation upgrade finalize"
	default:
		st.CanFinalize = true
		st.Next = "every member reads " + describeFormats(target) + ": run fedarms federation upgrade finalize (at a central node)"
	}
	return st
}

// upgradeBlock says why member m keeps target from being finalized ("" when it does not).
func upgradeBlock(m wire.Member, target map[string]int) string {
	if len(target) == 0 {
		return ""
	}
	if m.Status != "alive" {
		return "not heard from (" + m.Status + "): what it reads is unknown"
	}
	var lacks []string
	for _, kind := range slices.Sorted(maps.Keys(target)) {
		if f := m.Formats[kind]; f.Newest < target[kind] {
			lacks = append(lacks, fmt.Sprintf("reads %s formats up to %d, finalize needs %d", kind, f.Newest, target[kind]))
		}
	}
	if f := m.Formats["control"]; f.Newest < finalizeNeeds {
		lacks = append(lacks, fmt.Sprintf("reads control formats up to %d, finalize needs %d", f.Newest, finalizeNeeds))
	}
	return strings.Join(lacks, "; ")
}

func describeFormats(f map[string]int) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(f)) {
		parts = append(parts, fmt.Sprintf("%s format %d", k, f[k]))
	}
	return strings.Join(parts, ", ")
}

// FinalizeUpgrade records in the control group that the newer formats may be written, once every
// member reports that it reads them (POST /v1/federation/upgrade/finalize, admin, audited). It runs
// at a central node: the control group takes a finalize only from its voters.
func (n *Node) FinalizeUpgrade(ctx context.Context, p auth.Principal) (wire.UpgradeFinalized, error) {
	if n.fed == nil {
		return wire.UpgradeFinalized{}, n.notFederated()
	}
	st := n.UpgradeStatus()
	target := finalizeTarget(st.Finalized)
	var err error
	var res replication.ControlResult
	switch {
	case len(target) == 0:
		return wire.UpgradeFinalized{Formats: st.Finalized, Index: st.FinalizedIndex}, nil
	case n.fed.self.Role != transport.RoleCentral:
		err = wire.Errorf(wire.Conflict, "central_only", "finalize runs at a central node (this is %s, %s)", n.cfg.Name, n.fed.self.Role)
	case !st.CanFinalize:
		err = wire.Errorf(wire.Conflict, "upgrade_blocked", "cannot finalize %s yet: %s", describeFormats(target), strings.Join(st.Blockers, "; "))
	default:
		var cmd replication.ControlCommand
		if cmd, err = replication.FinalizeCommand(target, Version); err == nil {
			res, err = n.controlApply(ctx, cmd, false)
		}
	}
	blob, _ := json.Marshal(map[string]string{"formats": describeFormats(target)}) // an audit query is JSON
	if err := n.auditControl(p, "federation.upgrade.finalize", blob, nil, err); err != nil {
		return wire.UpgradeFinalized{}, err
	}
	n.syncWriteFormats()
	n.log.Warn("upgrade finalized: newer formats are written from now on", "formats", describeFormats(target), "index", res.Index)
	return wire.UpgradeFinalized{Formats: n.fed.control.Upgrade().Formats, Index: res.Index, Changed: res.Changed}, nil
}
