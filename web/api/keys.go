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
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

const keyPrefix = "api/key/"

type keyRecord struct {
	Name    string    `json:"name"`
	Hash    string    `json:"hash"`
	Created time.Time `json:"created"`
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
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) != 1 {
		return "", nil
	}
	return rec.Name, nil
}
