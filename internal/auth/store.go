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

// held is a token in memory, with the hash ready for comparison.
type held struct {
	token Token
	hash  [sha256.Size]byte
}

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
	h := &held{token: st.Token}
	// Check the length first: hex.Decode writes past a destination too small for its input.
	if len(st.SecretSHA256) != hex.EncodedLen(sha256.Size) {
		return nil, fmt.Errorf("decode secret hash: not %d hex bytes", sha256.Size)
	}
	if n, err := hex.Decode(h.hash[:], []byte(st.SecretSHA256)); err != nil || n != sha256.Size {
		return nil, fmt.Errorf("decode secret hash: not %d hex bytes", sha256.Size)
	}
	return h, nil
}

// put writes one token; the secret itself is never passed in, only its hash.
func (s *Store) put(h *held) error {
	v, err := json.Marshal(stored{Token: h.token, SecretSHA256: hex.EncodeToString(h.hash[:])})
	if err != nil {
		return fmt.Errorf("encode token %s: %w", h.token.ID, err)
	}
	return s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketTokens)
		if err != nil {
			return err
		}
		return b.Put([]byte(h.token.ID), v)
	})
}

// Create issues a token and returns its secret, which is shown once and cannot be recovered.
func (s *Store) Create(agency, country string, roles []string, note string) (string, Token, error) {
	roles, err := validateRequest(agency, country, roles)
	if err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
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
	h := &held{
		token: Token{ID: id, Agency: agency, Country: country, Roles: roles, Note: note, Created: s.now().UTC()},
		hash:  sha256.Sum256([]byte(secret)),
	}
	if err := s.put(h); err != nil {
		return "", Token{}, fmt.Errorf("create token: %w", err)
	}
	s.mu.Lock()
	s.byID[id] = h
	s.mu.Unlock()
	return secret, copyToken(h.token), nil
}

// Authenticate returns who presents secret. It reads no disk. A revoked token is reported as
// revoked only to someone holding its secret; anyone else learns only that it is unknown.
func (s *Store) Authenticate(secret string) (Principal, error) {
	id, err := parseSecret(secret)
	if err != nil {
		return Principal{}, err
	}
	sum := sha256.Sum256([]byte(secret))
	s.mu.RLock()
	defer s.mu.RUnlock()
	h, ok := s.byID[id]
	if !ok || subtle.ConstantTimeCompare(sum[:], h.hash[:]) != 1 {
		return Principal{}, ErrUnknownToken
	}
	if h.token.Revoked != nil {
		return Principal{}, ErrRevoked
	}
	t := h.token
	return Principal{TokenID: t.ID, Agency: t.Agency, Country: t.Country, Roles: slices.Clone(t.Roles)}, nil
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
	next := &held{token: copyToken(h.token), hash: h.hash}
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
	return copyToken(h.token), nil
}

// List returns every token, revoked ones included, oldest first.
func (s *Store) List() []Token {
	s.mu.RLock()
	out := make([]Token, 0, len(s.byID))
	for _, h := range s.byID {
		out = append(out, copyToken(h.token))
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Token) int {
		return cmp.Or(a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
	})
	return out
}

// copyToken keeps callers from changing the store's tokens through shared slices or pointers.
func copyToken(t Token) Token {
	t.Roles = slices.Clone(t.Roles)
	if t.Revoked != nil {
		at := *t.Revoked
		t.Revoked = &at
	}
	return t
}
