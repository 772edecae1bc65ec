package replication

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// A backup copies a group's state file whole, from one bbolt read transaction: the copy is the
// state as of one applied index, while applies go on (bbolt's readers never block its writer,
// except a writer that must grow the file's memory map, which waits for the copy to end; see
// "Snapshot stream" in DESIGN.md). With the copy goes raft's configuration as of that index, so a
// restore can hand raft a snapshot at the copy's index (RestoreGroup). Raft publishes only its
// latest configuration, without its index, and that may come from an entry not applied yet; so
// the shard's FSM keeps the configurations it is handed (configTrail).

// BackupServer is one server of a group's raft configuration, as a backup records it.
type BackupServer struct {
	ID       string `json:"id"`
	Address  string `json:"address"`
	Suffrage string `json:"suffrage"` // voter, nonvoter or staging
}

// BackupMeta is what a backup records of one group's copy: where it stands in the group's log,
// what it holds, and the raft configuration in force at its index.
type BackupMeta struct {
	AppliedIndex uint64 `json:"applied_index"`
	AppliedTerm  uint64 `json:"applied_term"`
	// Records and Digest are a shard's (a control copy has neither).
	Records            uint64         `json:"records,omitempty"`
	Digest             string         `json:"digest,omitempty"`
	Configuration      []BackupServer `json:"configuration"`
	ConfigurationIndex uint64         `json:"configuration_index"`
}

// StateCopy is an open, consistent copy of a state file: Size bytes that WriteTo writes. Close it
// as soon as it is written: it holds a read transaction.
type StateCopy struct {
	tx   *bolt.Tx
	Meta BackupMeta
}

// Size is the number of bytes WriteTo writes.
func (c *StateCopy) Size() int64 { return c.tx.Size() }

// WriteTo writes the state file as of the copy's transaction.
func (c *StateCopy) WriteTo(w io.Writer) (int64, error) { return c.tx.WriteTo(w) }

// Close ends the copy's read transaction.
func (c *StateCopy) Close() error { return c.tx.Rollback() }

// CopyState opens a consistent copy of the shard's state file and records the raft configuration
// in force at its applied index.
func (g *Group) CopyState(ctx context.Context) (*StateCopy, error) {
	for {
		c, ok, err := g.tryCopy()
		if err != nil {
			return nil, fmt.Errorf("shard %s: copy state: %w", g.shard, err)
		}
		if ok {
			return c, nil
		}
		// Right after a start the state is ahead of what raft has handed the FSM again: wait until
		// the replay has passed the copy's index, so every configuration up to it was seen.
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("shard %s: copy state: waiting for raft to replay its log: %w", g.shard, ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (g *Group) tryCopy() (*StateCopy, bool, error) {
	g.state.mu.RLock()
	tx, err := g.state.db.Begin(false)
	g.state.mu.RUnlock()
	if err != nil {
		return nil, false, err
	}
	var mirror stateMirror
	mirror.load(tx.Bucket(bucketMeta))
	st := mirror.get()
	m := BackupMeta{AppliedIndex: st.AppliedIndex, AppliedTerm: st.AppliedTerm, Records: st.Records, Digest: st.Digest.String()}
	if st.AppliedIndex > 0 {
		cf, idx, ok, err := g.configAt(st.AppliedIndex)
		if err != nil || !ok {
			_ = tx.Rollback()
			return nil, false, err
		}
		m.Configuration, m.ConfigurationIndex = backupServers(cf), idx
	}
	return &StateCopy{tx: tx, Meta: m}, true, nil
}

// configAt is the configuration in force at index: the newest the FSM saw at or below it, or the
// one of the newest snapshot at or below it when that is newer (the FSM sees only the entries
// after the snapshot raft starts from or installs). It is not known while the FSM has not seen
// the entries up to index (ok false).
func (g *Group) configAt(index uint64) (raft.Configuration, uint64, bool, error) {
	cf, idx, ok := g.trail.at(index)
	if !ok {
		return raft.Configuration{}, 0, false, nil
	}
	snaps, err := raft.NewFileSnapshotStore(g.dir, 2, io.Discard)
	if err != nil {
		return raft.Configuration{}, 0, false, err
	}
	list, err := snaps.List()
	if err != nil {
		return raft.Configuration{}, 0, false, err
	}
	for _, s := range list { // newest first
		if s.Index <= index {
			if s.ConfigurationIndex > idx || len(cf.Servers) == 0 {
				cf, idx = s.Configuration, s.ConfigurationIndex
			}
			break
		}
	}
	return cf, idx, len(cf.Servers) > 0, nil
}

// CopyState opens a consistent copy of the control state file, with the latest raft configuration.
//
// The control state's applied index counts commands only (its FSM is not told of configuration
// entries), so the configuration as of that index cannot be told; the latest is the freshest
// membership this node knew. It is filed at the copy's index: a restored node that rejoins is sent
// the entries after that index, configuration changes included, and takes them again.
func (c *Control) CopyState(context.Context) (*StateCopy, error) {
	cf := c.raft.GetConfiguration()
	if err := cf.Error(); err != nil {
		return nil, fmt.Errorf("control: copy state: %w", err)
	}
	tx, err := c.store.db.Begin(false)
	if err != nil {
		return nil, fmt.Errorf("control: copy state: %w", err)
	}
	var m BackupMeta
	if b := tx.Bucket(bucketCtlMeta); b != nil {
		m.AppliedIndex, m.AppliedTerm = getU64(b, keyApplied), getU64(b, keyTerm)
	}
	m.Configuration, m.ConfigurationIndex = backupServers(cf.Configuration()), m.AppliedIndex
	return &StateCopy{tx: tx, Meta: m}, nil
}

func backupServers(cf raft.Configuration) []BackupServer {
	out := make([]BackupServer, 0, len(cf.Servers))
	for _, s := range cf.Servers {
		out = append(out, BackupServer{ID: string(s.ID), Address: string(s.Address), Suffrage: suffrageName(s.Suffrage)})
	}
	return out
}

// configTrail keeps the last configurations the shard's FSM was handed, so a backup can tell the
// one in force at its copy's index.
type configTrail struct {
	mu   sync.Mutex
	seen uint64       // guarded by mu; the highest index handed to the FSM
	list []seenConfig // guarded by mu; ascending by index, the last few
}

type seenConfig struct {
	index uint64
	cf    raft.Configuration
}

const trailLen = 8

// saw records that the FSM was handed entry l.
func (t *configTrail) saw(l *raft.Log) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen = max(t.seen, l.Index)
	if l.Type != raft.LogConfiguration {
		return
	}
	if n := len(t.list); n > 0 && t.list[n-1].index >= l.Index {
		return // handed again (a retry after a halt)
	}
	t.list = append(t.list, seenConfig{index: l.Index, cf: raft.DecodeConfiguration(l.Data)})
	if len(t.list) > trailLen {
		t.list = t.list[1:]
	}
}

// restored forgets what came before a snapshot installed at index.
func (t *configTrail) restored(index uint64) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.seen, t.list = index, nil
}

// at is the newest configuration seen at or below index (empty when none was), with its index; ok
// is false while the entries up to index have not all been seen.
func (t *configTrail) at(index uint64) (raft.Configuration, uint64, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.seen < index {
		return raft.Configuration{}, 0, false
	}
	for i := len(t.list) - 1; i >= 0; i-- {
		if t.list[i].index <= index {
			return t.list[i].cf.Clone(), t.list[i].index, true
		}
	}
	return raft.Configuration{}, 0, true
}

func suffrageName(s raft.ServerSuffrage) string {
	switch s {
	case raft.Voter:
		return "voter"
	case raft.Nonvoter:
		return "nonvoter"
	default:
		return "staging"
	}
}

func suffrageOf(name string) (raft.ServerSuffrage, error) {
	switch name {
	case "voter":
		return raft.Voter, nil
	case "nonvoter":
		return raft.Nonvoter, nil
	case "staging":
		return raft.Staging, nil
	}
	return 0, fmt.Errorf("unknown raft suffrage %q", name)
}
