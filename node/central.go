package node

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// Central members are the voters of every raft group: the control group and each shard. The
// roster says who they are; each group's leader makes its voters follow it (syncMembers): a new
// central member is added as a non-voter, promoted once its log has caught up with the leader's,
// and a revoked one is removed. The operator's side of it (join, remove) is checked here, on the
// control leader, before the admission or revocation is ordered: one change at a time, and never
// a removal that leaves the groups without a majority of voters that answer.

// votingGroup is a raft group whose voters the central members are (a shard group, the control
// group).
type votingGroup interface {
	raftMembers
	Leader() (raft.ServerID, raft.ServerAddress)
	CaughtUp(id raft.ServerID, addr raft.ServerAddress) (uint64, bool)
}

type namedGroup struct {
	name string
	g    votingGroup
}

// votingGroups are the control group, the GS inbox group (on a central node) and the shard
// groups this node holds, in that order.
func (n *Node) votingGroups() []namedGroup {
	out := []namedGroup{{"control", n.fed.control}}
	if n.fed.inbox != nil {
		out = append(out, namedGroup{"inbox", n.fed.inbox})
	}
	shards := slices.Clone(n.held)
	sort.Strings(shards)
	for _, s := range shards {
		out = append(out, namedGroup{s, n.groups[s]})
	}
	return out
}

// centralMembers are the roster's central members by name, with their raft addresses.
func (f *fed) centralMembers() map[string]raft.ServerAddress {
	out := map[string]raft.ServerAddress{}
	for _, e := range f.roster.List() {
		if e.Role == transport.RoleCentral {
			out[e.Name] = transport.ServerAddress(e.PeerID)
		}
	}
	return out
}

// CentralStatus reports the central members and each group's voters (GET /v1/federation/central).
func (n *Node) CentralStatus() (wire.CentralStatus, error) {
	if n.fed == nil {
		return wire.CentralStatus{}, n.notFederated()
	}
	return n.centralStatus(), nil
}

func (n *Node) centralStatus() wire.CentralStatus {
	central := n.fed.centralMembers()
	st := wire.CentralStatus{Members: sortedKeys(central), Groups: []wire.CentralGroup{}}
	joining, leaving := map[string][]string{}, map[string][]string{}
	for _, ng := range n.votingGroups() {
		cg := wire.CentralGroup{Group: ng.name, Voters: []string{}}
		if id, _ := ng.g.Leader(); id != "" {
			cg.Leader = string(id)
		}
		servers, err := ng.g.Servers()
		if err != nil {
			st.Groups = append(st.Groups, cg)
			continue
		}
		voting := map[string]bool{}
		member := map[string]bool{}
		for _, s := range servers {
			addr, ok := central[string(s.ID)]
			atAddr := ok && addr == s.Address
			if s.Suffrage == raft.Voter {
				cg.Voters = append(cg.Voters, string(s.ID))
				if atAddr {
					voting[string(s.ID)] = true
				} else {
					cg.Leaving = append(cg.Leaving, string(s.ID))
					leaving[string(s.ID)] = append(leaving[string(s.ID)], ng.name)
				}
			} else if atAddr {
				member[string(s.ID)] = true
			}
		}
		for _, name := range st.Members {
			if voting[name] {
				continue
			}
			j := wire.CentralJoining{Name: name, Member: member[name]}
			if j.Member && ng.g.IsLeader() {
				behind, _ := ng.g.CaughtUp(raft.ServerID(name), central[name])
				j.Behind = &behind
			}
			cg.Joining = append(cg.Joining, j)
			joining[name] = append(joining[name], ng.name)
		}
		sort.Strings(cg.Voters)
		st.Groups = append(st.Groups, cg)
	}
	var parts []string
	for _, name := range sortedKeys(joining) {
		parts = append(parts, fmt.Sprintf("adding %s: not yet a voter of %s", name, strings.Join(joining[name], ", ")))
	}
	for _, name := range sortedKeys(leaving) {
		parts = append(parts, fmt.Sprintf("removing %s: still a voter of %s", name, strings.Join(leaving[name], ", ")))
	}
	st.Change = strings.Join(parts, "; ")
	return st
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// minVoters is the fewest voters a removal may leave without force: three survive the loss of one.
const minVoters = 3

// guardCentral refuses, on the control leader, an admission or revocation that changes the central
// members while another such change is still in progress, and a revocation that would leave a
// group with fewer answering voters than a majority, or, when the member removed still answers,
// with fewer than minVoters voters (unless force). Admissions and revocations of other members
// pass.
func (n *Node) guardCentral(cmd replication.ControlCommand, force bool) error {
	rootPub := n.fed.roster.RootPub()
	switch cmd.Op {
	case replication.ControlAdmit:
		var se transport.SignedEntry
		if json.Unmarshal(cmd.Blob, &se) != nil || transport.VerifyEntry(rootPub, se) != nil {
			return nil // refused by the control group itself, with its own message
		}
		if e, ok := n.fed.roster.Get(se.Entry.PeerID); ok {
			if (e.Role == transport.RoleCentral) != (se.Entry.Role == transport.RoleCentral) {
				return wire.Errorf(wire.Conflict, "role_change", "%s is a member as %s: a member's role cannot change to or from central; give the new role a new identity", e.Name, e.Role)
			}
			return nil // a newer entry of the same member
		}
		if se.Entry.Role != transport.RoleCentral {
			return nil
		}
		if st := n.centralStatus(); st.Change != "" {
			return wire.Errorf(wire.Conflict, "central_change_in_progress", "cannot add central member %s while a change of central members is in progress (%s); wait until it finishes (fedarms federation central)", se.Entry.Name, st.Change)
		}
		return nil
	case replication.ControlRevoke:
		var sr transport.SignedRevocation
		if json.Unmarshal(cmd.Blob, &sr) != nil || transport.VerifyRevocation(rootPub, sr) != nil {
			return nil
		}
		e, ok := n.fed.roster.Get(sr.Revocation.PeerID)
		if !ok || e.Role != transport.RoleCentral {
			return nil
		}
		st := n.centralStatus()
		if st.Change != "" && !joiningOnly(st, e.Name) && votesSomewhere(st, e.Name) {
			return wire.Errorf(wire.Conflict, "central_change_in_progress", "cannot remove central member %s while a change of central members is in progress (%s); wait until it finishes (fedarms federation central)", e.Name, st.Change)
		}
		return n.checkQuorumWithout(st, e.Name, force)
	}
	return nil
}

// joiningOnly reports whether the change in progress is name's own joining: removing a member
// whose join never finished (its machine did not come up) is how that join is abandoned.
func joiningOnly(st wire.CentralStatus, name string) bool {
	for _, g := range st.Groups {
		if len(g.Leaving) > 0 {
			return false
		}
		for _, j := range g.Joining {
			if j.Name != name {
				return false
			}
		}
	}
	return true
}

// votesSomewhere reports whether name is a voter of any group. Revoking a central member that
// votes nowhere changes no group's voters, whatever else is in progress: after a federation was
// rebuilt around one node (backup_recover.go), every other old central member is such a member,
// and each is revoked before its replacement joins.
func votesSomewhere(st wire.CentralStatus, name string) bool {
	for _, g := range st.Groups {
		if slices.Contains(g.Voters, name) {
			return true
		}
	}
	return false
}

// checkQuorumWithout checks that every group keeps enough voters once name no longer votes.
// Whether a voter answers, or is silent, is what this node, leading the control group, heard from
// it in the last seconds (replication.Answers, Silent).
func (n *Node) checkQuorumWithout(st wire.CentralStatus, name string, force bool) error {
	c := n.fed.control
	answers := func(voter string) bool { return voter == n.cfg.Name || c.Answers(raft.ServerID(voter)) }
	silent := func(voter string) bool { return voter != n.cfg.Name && c.Silent(raft.ServerID(voter)) }
	for _, g := range st.Groups {
		if !slices.Contains(g.Voters, name) {
			continue
		}
		left := slices.DeleteFunc(slices.Clone(g.Voters), func(v string) bool { return v == name })
		if len(left) == 0 {
			return wire.Errorf(wire.Conflict, "would_lose_quorum", "%s is the last voter of %s: a group cannot lose its last voter", name, g.Group)
		}
		// Removing a silent voter costs no tolerance (it was already lost); removing one that
		// answers does, and below three voters the loss of one more stops the group. A voter not
		// known to be silent (a control leader of a moment ago has not called it for long) counts
		// as answering here, and as not answering in the majority below: the cautious reading both
		// times.
		if len(left) < minVoters && !force && !silent(name) {
			return wire.Errorf(wire.Conflict, "too_few_voters", "removing %s, which is not known to be down, leaves %s with %d voters (%s); keep at least %d so that the loss of one is survived: add a central member first (fedarms federation join), or force it",
				name, g.Group, len(left), strings.Join(left, ", "), minVoters)
		}
		for _, v := range left {
			if v != n.cfg.Name && !c.Known(raft.ServerID(v)) {
				// This node leads the control group since a moment and has not called v yet.
				return wire.Errorf(wire.Unavailable, "unavailable", "the control leader %s took over a moment ago and has not heard %s yet; retry in a few seconds", n.cfg.Name, v).Retry(2)
			}
		}
		alive := 0
		var silent []string
		for _, v := range left {
			if answers(v) {
				alive++
			} else {
				silent = append(silent, v)
			}
		}
		if need := len(left)/2 + 1; alive < need {
			return wire.Errorf(wire.Conflict, "would_lose_quorum", "removing %s leaves %s with %d voters of which %d answer (silent: %s); a majority is %d: bring a silent voter back first",
				name, g.Group, len(left), alive, strings.Join(silent, ", "), need)
		}
	}
	return nil
}
