package api

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const keyPrefix = "api/key/"

type keyRecord struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
	// Owner owns the envelopes created with the key. Keys registered by name only
	// (RegisterKey) have none: their name is their owner.
	Owner   string    `json:"owner,omitempty"`
	ID      string    `json:"id,omitempty"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// owner is who owns the envelopes created with the key.
func (r keyRecord) owner() string {
	if r.Owner != "" {
		return r.Owner
	}
	return r.Name
}

// NewKey returns a fresh API key: 256 random bits, base64url without padding (43 characters).
func NewKey() (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("api: new key: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

func keyHash(plaintext string) string {
	h := sha256.Sum256([]byte(plaintext))
	return hex.EncodeToString(h[:])
}

// RegisterKey stores an API key (as its SHA-256) under a name. Registering the same key again
// is a no-op, so it can run at every start (PARAPHE_BOOTSTRAP_API_KEY). The key must have at
// least 32 characters; the name identifies the key's owner and owns the envelopes created with
// it.
func RegisterKey(ctx context.Context, db *badger.DB, name, plaintext string) error {
	if len(plaintext) < 32 || len(plaintext) > 512 {
		return fmt.Errorf("api: register key %q: a key must have 32 to 512 characters", name)
	}
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return fmt.Errorf("api: register key: the name must have 1 to 100 characters")
	}
	h := keyHash(plaintext)
	return db.Update(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(keyPrefix + h))
		if err == nil {
			var rec keyRecord
			if err := it.Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return err
			}
			if rec.Name != name {
				return fmt.Errorf("api: register key %q: this key is already registered under another name", name)
			}
			return nil
		}
		if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		b, _ := json.Marshal(keyRecord{Name: name, Hash: h, Created: time.Now().UTC()})
		return txn.Set([]byte(keyPrefix+h), b)
	})
}

// lookupKey returns the name of the key, or "" when the key is unknown.
func lookupKey(db *badger.DB, plaintext string) (string, error) {
	h := keyHash(plaintext)
	var rec keyRecord
	err := db.View(func(txn *badger.Txn) error {
		it, err := txn.Get([]byte(keyPrefix + h))
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error { return json.Unmarshal(v, &rec) })
	})
	if errors.Is(err, badger.ErrKeyNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) != 1 || !rec.Revoked.IsZero() {
		return "", nil
	}
	return rec.owner(), nil
}

// KeyInfo describes a stored API key; the key itself is never stored and cannot be shown again.
type KeyInfo struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Owner   string    `json:"owner"`
	Created time.Time `json:"created"`
	Revoked time.Time `json:"revoked,omitzero"`
}

// CreateKey makes a new API key named name whose envelopes belong to owner (an organisation,
// for keys made in the sender's web app) and returns it once, in clear, with its description.
func CreateKey(ctx context.Context, db *badger.DB, owner, name string) (KeyInfo, string, error) {
	if strings.TrimSpace(name) == "" || len(name) > 100 {
		return KeyInfo{}, "", fmt.Errorf("api: create key: the name must have 1 to 100 characters")
	}
	if strings.TrimSpace(owner) == "" {
		return KeyInfo{}, "", fmt.Errorf("api: create key: an owner is required")
	}
	plaintext, err := NewKey()
	if err != nil {
		return KeyInfo{}, "", err
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return KeyInfo{}, "", fmt.Errorf("api: create key: %w", err)
	}
	rec := keyRecord{Name: name, Hash: keyHash(plaintext), Created: time.Now().UTC(), Owner: owner, ID: hex.EncodeToString(id[:])}
	b, err := json.Marshal(rec)
	if err != nil {
		return KeyInfo{}, "", err
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(keyPrefix+rec.Hash), b) }); err != nil {
		return KeyInfo{}, "", fmt.Errorf("api: create key: %w", err)
	}
	return rec.info(), plaintext, nil
}

func (r keyRecord) info() KeyInfo {
	return KeyInfo{ID: r.ID, Name: r.Name, Owner: r.owner(), Created: r.Created, Revoked: r.Revoked}
}

// Keys lists the keys of owner made with CreateKey, revoked ones included, oldest first.
func Keys(ctx context.Context, db *badger.DB, owner string) ([]KeyInfo, error) {
	var out []KeyInfo
	err := scanKeys(db, func(_ []byte, rec keyRecord) error {
		if rec.ID != "" && rec.owner() == owner {
			out = append(out, rec.info())
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("api: list keys: %w", err)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int { return a.Created.Compare(b.Created) })
	return out, nil
}

// ErrNoSuchKey is returned when revoking a key that owner does not have.
var ErrNoSuchKey = errors.New("api: no such key")

// RevokeKey revokes owner's key id: from then on every request with it is refused (401).
// Revoking a revoked key is a no-op.
func RevokeKey(ctx context.Context, db *badger.DB, owner, id string) error {
	var found []byte
	var rec keyRecord
	err := scanKeys(db, func(k []byte, r keyRecord) error {
		if id != "" && r.ID == id && r.owner() == owner {
			found, rec = k, r
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("api: revoke key: %w", err)
	}
	if found == nil {
		return ErrNoSuchKey
	}
	if !rec.Revoked.IsZero() {
		return nil
	}
	rec.Revoked = time.Now().UTC()
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Set(found, b) }); err != nil {
		return fmt.Errorf("api: revoke key: %w", err)
	}
	return nil
}

func scanKeys(db *badger.DB, fn func(key []byte, rec keyRecord) error) error {
	return db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(keyPrefix), PrefetchValues: true, PrefetchSize: 32})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			var rec keyRecord
			if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &rec) }); err != nil {
				return err
			}
			if err := fn(it.Item().KeyCopy(nil), rec); err != nil {
				return err
			}
		}
		return nil
	})
}
