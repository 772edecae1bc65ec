package replication

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/hashicorp/raft"
	bolt "go.etcd.io/bbolt"
)

// A backup copies a group's state file whole, from one bbolt read transaction: the copy is the
// state as of one applied index, while applies go on (bbolt's readers never block its writer,
// except a writer that must grow the file's memory map, which waits for the copy to end; see
// "Snapshot stream" in DESIGN.md). With the copy goes raft's configuration as of that index, so a
// restore can hand raft a snapshot at the copy's index (RestoreGroup).

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
func (g *Group) CopyState(context.Context) (*StateCopy, error) {
	g.state.mu.RLock()
	tx, err := g.state.db.Begin(false)
	g.state.mu.RUnlock()
	if err != nil {
		return nil, fmt.Errorf("shard %s: copy state: %w", g.shard, err)
	}
	var mirror stateMirror
	mirror.load(tx.Bucket(bucketMeta))
	st := mirror.get()
	m := BackupMeta{AppliedIndex: st.AppliedIndex, AppliedTerm: st.AppliedTerm, Records: st.Records, Digest: st.Digest.String()}
	if st.AppliedIndex > 0 {
		cf, idx, err := g.configAt(st.AppliedIndex)
		if err != nil {
			_ = tx.Rollback()
			return nil, fmt.Errorf("shard %s: copy state: %w", g.shard, err)
		}
		m.Configuration, m.ConfigurationIndex = backupServers(cf), idx
	}
	return &StateCopy{tx: tx, Meta: m}, nil
}

// configAt is the configuration in force at index: the newest configuration entry at or below it
// in the log, or, when the log was compacted past every such entry, the configuration of the
// newest snapshot whose own configuration is at or below index (a snapshot records the newest
// configuration up to its index, and none came after it below index, or the log would hold it).
// It reads the stores, not raft: raft publishes only its latest configuration, without its index,
// and that may come from an entry not applied yet.
func (g *Group) configAt(index uint64) (raft.Configuration, uint64, error) {
	cf, idx, ok, err := g.logs.configurationAt(index)
	if err != nil || ok {
		return cf, idx, err
	}
	snaps, err := raft.NewFileSnapshotStore(g.dir, 2, io.Discard)
	if err != nil {
		return raft.Configuration{}, 0, err
	}
	list, err := snaps.List()
	if err != nil {
		return raft.Configuration{}, 0, err
	}
	for _, s := range list { // newest first
		if s.ConfigurationIndex <= index && len(s.Configuration.Servers) > 0 {
			return s.Configuration, s.ConfigurationIndex, nil
		}
	}
	return raft.Configuration{}, 0, fmt.Errorf("no raft configuration at or below index %d in the log or the snapshots", index)
}

// configurationAt finds the newest configuration entry at or below index in the log. It reads
// each entry's header only (its type follows the index and term), so a long log of big batches
// costs a page per entry, and decodes the one it finds.
func (s *LogStore) configurationAt(index uint64) (cf raft.Configuration, at uint64, found bool, err error) {
	err = s.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(raftLogsBucket).Cursor()
		var key [8]byte
		binary.BigEndian.PutUint64(key[:], index)
		k, v := c.Seek(key[:])
		if k == nil || binary.BigEndian.Uint64(k) > index {
			k, v = c.Prev()
		}
		for ; k != nil; k, v = c.Prev() {
			v, err := s.open(k, v)
			if err != nil {
				return err
			}
			if typ, ok := logTypeOf(v); ok && typ != raft.LogConfiguration {
				continue
			}
			var l raft.Log
			if err := decodeRaftLog(v, &l); err != nil {
				return fmt.Errorf("log entry %d: %w", binary.BigEndian.Uint64(k), err)
			}
			if l.Type != raft.LogConfiguration {
				continue
			}
			if cf, err = decodeConfiguration(l.Data); err != nil {
				return fmt.Errorf("log entry %d: %w", l.Index, err)
			}
			at, found = l.Index, true
			return nil
		}
		return nil
	})
	return cf, at, found, err
}

// logTypeOf reads the type of a stored entry from its header (see appendRaftLog); ok is false
// when the header does not parse, and the caller then decodes the whole entry.
func logTypeOf(v []byte) (raft.LogType, bool) {
	if len(v) < 1 || v[0] != raftLogVersion {
		return 0, false
	}
	b := v[1:]
	for range 2 { // index, term
		_, n := binary.Uvarint(b)
		if n <= 0 {
			return 0, false
		}
		b = b[n:]
	}
	if len(b) == 0 {
		return 0, false
	}
	return raft.LogType(b[0]), true
}

// decodeConfiguration is raft.DecodeConfiguration, which panics on bytes it cannot read: a
// damaged entry must not take the node down.
func decodeConfiguration(b []byte) (cf raft.Configuration, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("undecodable raft configuration: %v", r)
		}
	}()
	return raft.DecodeConfiguration(b), nil
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
