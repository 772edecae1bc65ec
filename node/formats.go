package node

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/fedarms/fedarms/node/wire"
	"github.com/fedarms/fedarms/replication"
	"github.com/fedarms/fedarms/transport"
)

// formatKind is one kind of versioned format: its name in the API, its key in gossip, the formats
// this release reads, and whether a newer one waits for finalize before it is written.
type formatKind struct {
	name, short    string
	oldest, newest int
	heldBack       bool
}

// formatKinds are the formats this release reads and writes. Snapshots (FEDSNAP1), node-to-node
// messages (JSON frames whose fields are only added) and the data dir (FORMAT.json, local to the
// node, migrated at start) have had one format so far; control format 2 is the finalize command
// itself.
var formatKinds = []formatKind{
	{name: "raft_command", short: "c", oldest: int(replication.CommandFormatOldest), newest: int(replication.CommandFormatNewest), heldBack: true},
	{name: "control", short: "k", oldest: 1, newest: replication.ControlFormatNewest},
	{name: "snapshot", short: "s", oldest: 1, newest: 1},
	{name: "message", short: "m", oldest: 1, newest: 1},
	{name: "data_dir", short: "d", oldest: 1, newest: DataFormat},
}

// finalizeNeeds is the control format a member must read for the finalize command itself.
const finalizeNeeds = replication.ControlFormatFinalize

// memberFormats reads the formats a member gossiped; a member that published none (an earlier
// release) reads and writes format 1 of every kind. Values that make no sense are left out.
func memberFormats(h transport.Health) (map[string]wire.FormatSupport, bool) {
	published := transport.DecodeFormats(h.Formats)
	out := make(map[string]wire.FormatSupport, len(formatKinds))
	for _, k := range formatKinds {
		out[k.name] = wire.FormatSupport{Oldest: 1, Newest: 1, Writes: 1}
		if v, ok := published[k.short]; ok {
			out[k.name] = wire.FormatSupport{Oldest: v.Oldest, Newest: v.Newest, Writes: v.Writes}
		}
	}
	return out, len(published) > 0
}

// formatReaders keeps, from the last gossip refresh, which releases other members run that read
// which raft command format: what a node halted on a format it does not read tells its operator.
type formatReaders struct {
	mu       sync.Mutex       // guards releases
	releases map[int][]string // command format -> sorted releases of members that read it
}

// update replaces what is known from members (this node left out).
func (r *formatReaders) update(members []wire.Member) {
	byFormat := map[int]map[string]bool{}
	for _, m := range members {
		s, ok := m.Formats["raft_command"]
		if m.Self || !m.FormatsReported || !ok || m.Version == "" || s.Newest-s.Oldest > 64 {
			continue
		}
		for f := s.Oldest; f <= s.Newest; f++ {
			if byFormat[f] == nil {
				byFormat[f] = map[string]bool{}
			}
			byFormat[f][m.Version] = true
		}
	}
	out := make(map[int][]string, len(byFormat))
	for f, rel := range byFormat {
		out[f] = slices.Sorted(maps.Keys(rel))
	}
	r.mu.Lock()
	r.releases = out
	r.mu.Unlock()
}

// reading names the releases of members that read command format f ("" when none is known).
func (r *formatReaders) reading(f int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.releases[f], ", ")
}
