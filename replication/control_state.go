package replication

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Control errors; the node maps them to API answers with errors.Is.
var (
	// ErrControlRefused means the verifier refused a command's blob (forged, unsigned, malformed)
	// or the command itself is malformed. It wraps the verifier's error.
	ErrControlRefused = errors.New("control command refused")
	// ErrPeerRevoked means the peer id was revoked: it can never be admitted again.
	ErrPeerRevoked = errors.New("peer id has been revoked and can never be admitted again")
	// ErrNameInUse means another admitted member already has the name.
	ErrNameInUse = errors.New("name is used by another admitted member")
	// ErrStaleEntry means an admission's entry is not newer (by serial) than the member's entry in
	// force: a replay of an entry since replaced.
	ErrStaleEntry = errors.New("entry is not newer than the member's entry in force")
)

// ControlOp is what a control command does.
type ControlOp string

// The control commands.
const (
	ControlAdmit  ControlOp = "admit"
	ControlRevoke ControlOp = "revoke"
)

// ControlCommand is one control log entry: an operation on an opaque signed blob that only the
// ControlVerifier can read.
type ControlCommand struct {
	Op   ControlOp `json:"op"`
	Blob []byte    `json:"blob"`
	// Rules are the rules the leader ordered the command under, stamped by Control.Apply; every
	// replica judges the entry by them, so a log written by the last release (no rules: 0) replays
	// as that release applied it. Rules 1: an admission must carry a newer serial than the
	// member's entry in force.
	Rules int `json:"rules,omitempty"`
	// Format is the control format a replica must read to apply the command (absent: 1); see
	// control_upgrade.go.
	Format int `json:"format,omitempty"`
}

// The control rules this release orders commands under.
const (
	controlRulesReplace = 0 // the last release: an admission replaces the member's entry
	controlRulesSerial  = 1 // an admission must be newer than the member's entry in force
	controlRules        = controlRulesSerial
)

// ControlMember is an admitted member as the control state holds it.
type ControlMember struct {
	PeerID string `json:"peer_id"`
	Name   string `json:"name"`
	// Blob is the signed entry exactly as admitted.
	Blob []byte `json:"blob"`
	// Index is the control log index that admitted it (or last replaced its entry).
	Index uint64 `json:"index"`
	// Serial is the entry's serial as the verifier read it (absent in a state written by the last
	// release, whose entries had none: 0).
	Serial uint64 `json:"serial,omitempty"`
}

// ControlRevoked is a revoked peer id with the signed revocation that revoked it.
type ControlRevoked struct {
	PeerID string `json:"peer_id"`
	Blob   []byte `json:"blob"`
	Index  uint64 `json:"index"`
}

// ControlState is the whole control state: small enough to copy, list and snapshot as JSON.
type ControlState struct {
	AppliedIndex uint64 `json:"applied_index"`
	AppliedTerm  uint64 `json:"applied_term"`
	// Members are sorted by peer id.
	Members []ControlMember `json:"members"`
	// Revoked are sorted by peer id.
	Revoked []ControlRevoked `json:"revoked"`
	// Upgrade is the finalized upgrade (nil: none yet).
	Upgrade *ControlUpgrade `json:"upgrade,omitempty"`
}

// ControlChange is one applied admission or revocation, reported to the ControlObserver.
type ControlChange struct {
	Index  uint64
	Op     ControlOp
	PeerID string
	// Name is the admitted member's name (empty for a revocation).
	Name string
	// Serial is the admitted entry's serial (0 for a revocation).
	Serial uint64
	Blob   []byte
	// Upgrade is the finalized upgrade after a ControlFinalize.
	Upgrade *ControlUpgrade
}

// ControlResult is what applying one control command did.
type ControlResult struct {
	// Index is the control log index the command was committed at.
	Index   uint64 `json:"index"`
	PeerID  string `json:"peer_id"`
	Name    string `json:"name,omitempty"`
	Changed bool   `json:"changed"` // false when the state already said so (a repeated command)
}

var (
	bucketCtlMembers = []byte("members")
	bucketCtlRevoked = []byte("revoked")
	bucketCtlMeta    = []byte("meta")
)

// controlStore is the control FSM's state: a bbolt file, mirrored whole in memory.
type controlStore struct {
	db   *bolt.DB
	path string

	mu      sync.RWMutex
	members map[string]ControlMember  // guarded by mu; by peer id
	revoked map[string]ControlRevoked // guarded by mu; by peer id
	names   map[string]string         // guarded by mu; name -> peer id
	applied uint64                    // guarded by mu
	term    uint64                    // guarded by mu
	upgrade ControlUpgrade            // guarded by mu

	faults writeFaults // makes the next writes fail (fault tests)
}

func controlStatePath(dir string) string { return filepath.Join(dir, "control.db") }

func openControlStore(path string) (*controlStore, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open control state %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketCtlMembers, bucketCtlRevoked, bucketCtlMeta} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	s := &controlStore{db: db, path: path}
	if err == nil {
		var st ControlState
		if st, err = readControlTx(db); err == nil {
			s.load(st)
		}
	}
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("open control state %s: %w", path, err)
	}
	return s, nil
}

// load replaces the in-memory mirror with st.
func (s *controlStore) load(st ControlState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members, s.revoked, s.names = map[string]ControlMember{}, map[string]ControlRevoked{}, map[string]string{}
	for _, m := range st.Members {
		s.members[m.PeerID] = m
		s.names[m.Name] = m.PeerID
	}
	for _, r := range st.Revoked {
		s.revoked[r.PeerID] = r
	}
	s.applied, s.term = st.AppliedIndex, st.AppliedTerm
	s.upgrade = ControlUpgrade{}
	if st.Upgrade != nil {
		s.upgrade = *st.Upgrade
	}
}

// state copies the whole state, sorted.
func (s *controlStore) state() ControlState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st := ControlState{AppliedIndex: s.applied, AppliedTerm: s.term,
		Members: make([]ControlMember, 0, len(s.members)), Revoked: make([]ControlRevoked, 0, len(s.revoked))}
	for _, m := range s.members {
		m.Blob = slices.Clone(m.Blob)
		st.Members = append(st.Members, m)
	}
	for _, r := range s.revoked {
		r.Blob = slices.Clone(r.Blob)
		st.Revoked = append(st.Revoked, r)
	}
	if len(s.upgrade.Formats) > 0 {
		u := s.upgrade
		u.Formats = maps.Clone(u.Formats)
		st.Upgrade = &u
	}
	slices.SortFunc(st.Members, func(a, b ControlMember) int { return strings.Compare(a.PeerID, b.PeerID) })
	slices.SortFunc(st.Revoked, func(a, b ControlRevoked) int { return strings.Compare(a.PeerID, b.PeerID) })
	return st
}

func (s *controlStore) appliedIndex() uint64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.applied
}

// decide works out what cmd would do to the current state, without changing it. It is the whole
// of the FSM's judgement, so it must depend only on the state and the command: the leader runs it
// to refuse early, and every replica runs it again when it applies the entry.
func (s *controlStore) decide(v ControlVerifier, cmd ControlCommand) (ControlChange, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := ControlChange{Op: cmd.Op, Blob: cmd.Blob}
	switch cmd.Op {
	case ControlAdmit:
		e, err := v.VerifyAdmit(cmd.Blob)
		if err != nil {
			return c, false, fmt.Errorf("%w: %w", ErrControlRefused, err)
		}
		if e.PeerID == "" || e.Name == "" {
			return c, false, fmt.Errorf("%w: the verifier named no peer id or name", ErrControlRefused)
		}
		peerID, name := e.PeerID, e.Name
		c.PeerID, c.Name, c.Serial = peerID, name, e.Serial
		if _, ok := s.revoked[peerID]; ok {
			return c, false, fmt.Errorf("admit %s (%s): %w", name, peerID, ErrPeerRevoked)
		}
		if other, ok := s.names[name]; ok && other != peerID {
			return c, false, fmt.Errorf("admit %s (%s): %w (%s)", name, peerID, ErrNameInUse, other)
		}
		old, ok := s.members[peerID]
		if ok && bytes.Equal(old.Blob, cmd.Blob) {
			return c, false, nil // the entry in force, again
		}
		if ok && cmd.Rules >= controlRulesSerial && e.Serial <= old.Serial {
			return c, false, fmt.Errorf("admit %s (%s): serial %d, in force %d: %w", name, peerID, e.Serial, old.Serial, ErrStaleEntry)
		}
		return c, true, nil
	case ControlRevoke:
		peerID, err := v.VerifyRevoke(cmd.Blob)
		if err != nil {
			return c, false, fmt.Errorf("%w: %w", ErrControlRefused, err)
		}
		if peerID == "" {
			return c, false, fmt.Errorf("%w: the verifier named no peer id", ErrControlRefused)
		}
		c.PeerID = peerID
		if m, ok := s.members[peerID]; ok {
			c.Name = m.Name
		}
		_, already := s.revoked[peerID]
		return c, !already, nil
	case ControlFinalize:
		return s.decideFinalize(cmd)
	}
	return c, false, fmt.Errorf("%w: unknown op %q", ErrControlRefused, cmd.Op)
}

// apply makes c durable (when changed) together with the applied index, then updates the mirror.
func (s *controlStore) apply(index, term uint64, c *ControlChange, changed bool) error {
	if err := s.faults.take(s.path); err != nil {
		return err
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		if changed {
			members, revoked := tx.Bucket(bucketCtlMembers), tx.Bucket(bucketCtlRevoked)
			switch c.Op {
			case ControlAdmit:
				v, err := json.Marshal(ControlMember{PeerID: c.PeerID, Name: c.Name, Blob: c.Blob, Index: index, Serial: c.Serial})
				if err != nil {
					return err
				}
				if err := members.Put([]byte(c.PeerID), v); err != nil {
					return err
				}
			case ControlRevoke:
				v, err := json.Marshal(ControlRevoked{PeerID: c.PeerID, Blob: c.Blob, Index: index})
				if err != nil {
					return err
				}
				if err := revoked.Put([]byte(c.PeerID), v); err != nil {
					return err
				}
				if err := members.Delete([]byte(c.PeerID)); err != nil {
					return err
				}
			case ControlFinalize:
				c.Upgrade.Index = index
				if err := putUpgrade(tx.Bucket(bucketCtlMeta), *c.Upgrade); err != nil {
					return err
				}
			}
		}
		return putMeta(tx.Bucket(bucketCtlMeta), index, term)
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.applied, s.term = index, term
	if !changed {
		return nil
	}
	switch c.Op {
	case ControlAdmit:
		if old, ok := s.members[c.PeerID]; ok {
			delete(s.names, old.Name)
		}
		s.members[c.PeerID] = ControlMember{PeerID: c.PeerID, Name: c.Name, Blob: slices.Clone(c.Blob), Index: index, Serial: c.Serial}
		s.names[c.Name] = c.PeerID
	case ControlRevoke:
		if old, ok := s.members[c.PeerID]; ok {
			delete(s.names, old.Name)
			delete(s.members, c.PeerID)
		}
		s.revoked[c.PeerID] = ControlRevoked{PeerID: c.PeerID, Blob: slices.Clone(c.Blob), Index: index}
	case ControlFinalize:
		s.upgrade = *c.Upgrade
		s.upgrade.Formats = maps.Clone(c.Upgrade.Formats)
	}
	return nil
}

func putMeta(b *bolt.Bucket, index, term uint64) error {
	if err := b.Put(keyApplied, binary.BigEndian.AppendUint64(nil, index)); err != nil {
		return err
	}
	return b.Put(keyTerm, binary.BigEndian.AppendUint64(nil, term))
}

// replace swaps the whole state for st (a restored snapshot) in one transaction.
func (s *controlStore) replace(st ControlState) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketCtlMembers, bucketCtlRevoked} {
			if err := tx.DeleteBucket(name); err != nil && !errors.Is(err, bolterrors.ErrBucketNotFound) {
				return err
			}
		}
		members, err := tx.CreateBucket(bucketCtlMembers)
		if err != nil {
			return err
		}
		revoked, err := tx.CreateBucket(bucketCtlRevoked)
		if err != nil {
			return err
		}
		for _, m := range st.Members {
			v, _ := json.Marshal(m)
			if err := members.Put([]byte(m.PeerID), v); err != nil {
				return err
			}
		}
		for _, r := range st.Revoked {
			v, _ := json.Marshal(r)
			if err := revoked.Put([]byte(r.PeerID), v); err != nil {
				return err
			}
		}
		var u ControlUpgrade
		if st.Upgrade != nil {
			u = *st.Upgrade
		}
		if err := putUpgrade(tx.Bucket(bucketCtlMeta), u); err != nil {
			return err
		}
		return putMeta(tx.Bucket(bucketCtlMeta), st.AppliedIndex, st.AppliedTerm)
	})
	if err != nil {
		return fmt.Errorf("restore control state: %w", err)
	}
	s.load(st)
	return nil
}

func (s *controlStore) close() error { return s.db.Close() }
