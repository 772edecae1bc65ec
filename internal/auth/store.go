package auth

import (
	"cmp"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/bbolt"
)

var (
	// ErrMalformed: the presented secret does not have the shape of a token secret.
	ErrMalformed = errors.New("malformed token")
	// ErrUnknownToken: no token matches the presented secret.
	ErrUnknownToken = errors.New("unknown token")
	// ErrRevoked: the secret is right but the token has been revoked.
	ErrRevoked = errors.New("token revoked")
	// ErrExpired: the secret is right but the token's time is over.
	ErrExpired = errors.New("token expired")
	// ErrNotFound: no token has the given id.
	ErrNotFound = errors.New("token not found")
	// ErrInvalid: a token request has a bad field; the error is a *FieldError or several.
	ErrInvalid = errors.New("invalid token request")
)

var bucketTokens = []byte("tokens")

// stored is a token as kept in bbolt: the public part and the hash of the secret.
type stored struct {
	Token
	SecretSHA256 string `json:"secret_sha256"`
}

// held is a token in memory, with the hash ready for comparison. lastUsed (unix nanoseconds) changes
// on every request without a lock; token.LastUsed is what was last written to disk.
type held struct {
	token    Token
	hash     [sha256.Size]byte
	lastUsed *atomic.Int64
}

// lastUseFlush is how late the disk may be on a token's last use: a request whose token was last
// written longer ago than this starts a write in the background.
const lastUseFlush = time.Minute

// Store keeps the node's tokens: on disk in bbolt, and in memory so that authenticating a request
// reads no disk.
type Store struct {
	db  *bbolt.DB
	now func() time.Time

	// writeMu serialises Create and Revoke so the disk and the map change in the same order.
	// Lock order: writeMu, then mu.
	writeMu sync.Mutex
	// mu guards byID; Authenticate only takes the read lock.
	mu   sync.RWMutex
	byID map[string]*held
	// flushing is set while a background write of last uses runs.
	flushing atomic.Bool
}

// OpenStore loads every token of db into memory, creating the bucket on a writable file. now stamps
// creation and revocation times; nil means time.Now.
func OpenStore(db *bbolt.DB, now func() time.Time) (*Store, error) {
	if now == nil {
		now = time.Now
	}
	s := &Store{db: db, now: now, byID: map[string]*held{}}
	load := func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketTokens)
		if b == nil && !db.IsReadOnly() {
			var err error
			if b, err = tx.CreateBucket(bucketTokens); err != nil {
				return fmt.Errorf("create bucket: %w", err)
			}
		}
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			h, err := decode(v)
			if err != nil {
				return fmt.Errorf("token %s: %w", k, err)
			}
			s.byID[h.token.ID] = h
			return nil
		})
	}
	var err error
	if db.IsReadOnly() {
		err = db.View(load)
	} else {
		err = db.Update(load)
	}
	if err != nil {
		return nil, fmt.Errorf("open token store: %w", err)
	}
	return s, nil
}

func decode(v []byte) (*held, error) {
	var st stored
	if err := json.Unmarshal(v, &st); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	h := &held{token: st.Token, lastUsed: new(atomic.Int64)}
	if st.LastUsed != nil {
		h.lastUsed.Store(st.LastUsed.UnixNano())
	}
	// Check the length first: hex.Decode writes past a destination too small for its input.
	if len(st.SecretSHA256) != hex.EncodedLen(sha256.Size) {
		return nil, fmt.Errorf("decode secret hash: not %d hex bytes", sha256.Size)
	}
	if n, err := hex.Decode(h.hash[:], []byte(st.SecretSHA256)); err != nil || n != sha256.Size {
		return nil, fmt.Errorf("decode secret hash: not %d hex bytes", sha256.Size)
	}
	return h, nil
}

// encode is a token as stored; the secret itself is never passed in, only its hash.
func encode(h *held) ([]byte, error) {
	v, err := json.Marshal(stored{Token: h.token, SecretSHA256: hex.EncodeToString(h.hash[:])})
	if err != nil {
		return nil, fmt.Errorf("encode token %s: %w", h.token.ID, err)
	}
	return v, nil
}

// put writes one token.
func (s *Store) put(h *held) error {
	v, err := encode(h)
	if err != nil {
		return err
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		return b.Put([]byte(h.token.ID), v)
	})
}

// Create issues a token that does not expire and acts for no other agency, and returns its
// secret, which is shown once and cannot be recovered.
func (s *Store) Create(agency, country string, roles []string, note string) (string, Token, error) {
	return s.Issue(Request{Agency: agency, Country: country, Roles: roles, Note: note})
}

// Issue makes a token as req asks and returns its secret, which is shown once and cannot be
// recovered.
func (s *Store) Issue(req Request) (string, Token, error) {
	roles, err := validateRequest(req.Agency, req.Country, req.Roles)
	onBehalf, grantErrs := validateGrant(req)
	if err != nil || len(grantErrs) > 0 {
		if err != nil {
			grantErrs = append([]error{err}, grantErrs...)
		}
		return "", Token{}, fmt.Errorf("create token: %w", joinErrors(grantErrs))
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var id, secret string
	for {
		if id, secret, err = newSecret(); err != nil {
			return "", Token{}, fmt.Errorf("create token: %w", err)
		}
		s.mu.RLock()
		_, taken := s.byID[id]
		s.mu.RUnlock()
		if !taken {
			break
		}
	}
	now := s.now().UTC()
	h := &held{
		token: Token{ID: id, Agency: req.Agency, Country: req.Country, Roles: roles, Note: req.Note, Created: now,
			OnBehalfOf: onBehalf, Limits: req.Limits},
		hash:     sha256.Sum256([]byte(secret)),
		lastUsed: new(atomic.Int64),
	}
	if req.TTL > 0 {
		at := now.Add(req.TTL)
		h.token.Expires = &at
	}
	if err := s.put(h); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	s.mu.Lock()
	s.byID[id] = h
	s.mu.Unlock()
	return secret, copyToken(h.token), nil
}

// Authenticate returns who presents secret. It reads no disk. A revoked or expired token is
// reported as such only to someone holding its secret; anyone else learns only that it is unknown.
func (s *Store) Authenticate(secret string) (Principal, error) {
	id, err := parseSecret(secret)
	if err != nil {
		return Principal{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.RLock()
	h, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok || subtle.ConstantTimeCompare(sum[:], h.hash[:]) != 1 {
		return Principal{}, ErrUnknownToken
	}
	if h.token.Revoked != nil {
		return Principal{}, ErrRevoked
	}
	now := s.now()
	if h.token.Expires != nil && !now.Before(*h.token.Expires) {
		return Principal{}, ErrExpired
	}
	h.lastUsed.Store(now.UnixNano())
	if h.token.LastUsed == nil || now.Sub(*h.token.LastUsed) > lastUseFlush {
		s.flushLater()
	}
	t := h.token
	return Principal{TokenID: t.ID, Agency: t.Agency, Country: t.Country, Roles: slices.Clone(t.Roles),
		OnBehalfOf: slices.Clone(t.OnBehalfOf), Limits: t.Limits}, nil
}

// flushLater writes the last uses in the background, one write at a time.
func (s *Store) flushLater() {
	if !s.flushing.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.flushing.Store(false)
		_ = s.FlushLastUse() // the next request tries again; Close's flush reports a failure
	}()
}

// FlushLastUse writes every token's last use that changed since it was last written, in one
// transaction. The node calls it when it closes.
func (s *Store) FlushLastUse() error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	var changed []*held
	s.mu.RLock()
	for _, h := range s.byID {
		used := h.lastUsed.Load()
		if used != 0 && (h.token.LastUsed == nil || h.token.LastUsed.UnixNano() != used) {
			next := &held{token: copyToken(h.token), hash: h.hash, lastUsed: h.lastUsed}
			at := time.Unix(0, used).UTC()
			next.token.LastUsed = &at
			changed = append(changed, next)
		}
	}
	s.mu.RUnlock()
	if len(changed) == 0 {
		return nil
	}
	err := s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		for _, h := range changed {
			v, err := encode(h)
			if err != nil {
				return err
			}
			if err := b.Put([]byte(h.token.ID), v); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write tokens' last use: %w", err)
	}
	s.mu.Lock()
	for _, h := range changed {
		s.byID[h.token.ID] = h
	}
	s.mu.Unlock()
	return nil
}

// Revoke disables a token at once. Revoking a revoked token keeps its first revocation time. If the
// revocation cannot be stored the token is still refused until the node restarts, and the error says so.
func (s *Store) Revoke(id string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.RLock()
	h, ok := s.byID[id]
	s.mu.RUnlock()
	if !ok {
		return fmt.Errorf("revoke %q: %w", id, ErrNotFound)
	}
	if h.token.Revoked != nil {
		return nil
	}
	at := s.now().UTC()
	next := &held{token: copyToken(h.token), hash: h.hash, lastUsed: h.lastUsed}
	next.token.Revoked = &at
	s.mu.Lock()
	s.byID[id] = next
	s.mu.Unlock()
	if err := s.put(next); err != nil {
		return fmt.Errorf("revoke %q: refused from now on, but not stored, so it is valid again after a restart: %w", id, err)
	}
	return nil
}

// Get returns the public part of one token.
func (s *Store) Get(id string) (Token, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.byID[id]
	if !ok {
		return Token{}, fmt.Errorf("token %q: %w", id, ErrNotFound)
	}
	return h.public(), nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List() []Token {
	s.mu.RLock()
	out := make([]Token, 0, len(s.byID))
	for _, h := range s.byID {
		out = append(out, h.public())
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// public is the token as callers see it, with its last use as of now (not as of the last write).
func (h *held) public() Token {
	t := copyToken(h.token)
	if used := h.lastUsed.Load(); used != 0 {
		at := time.Unix(0, used).UTC()
		t.LastUsed = &at
	}
	return t
}

// copyToken keeps callers from changing the store's tokens through shared slices or pointers.
func copyToken(t Token) Token {
	t.Roles = slices.Clone(t.Roles)
	t.OnBehalfOf = slices.Clone(t.OnBehalfOf)
	for _, p := range []**time.Time{&t.Revoked, &t.Expires, &t.LastUsed} {
		if *p != nil {
			at := **p
			*p = &at
		}
	}
	return t
}
