package ceremony

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// Badger keys, all under "ceremony/".
const (
	kEnvelope = "ceremony/env/"     // + id → Envelope
	kEvent    = "ceremony/ev/"      // + envelope id + "/" + %020d seq → eventRecord
	kEventID  = "ceremony/evid/"    // + event id → event key
	kToken    = "ceremony/token/"   // + sha256(token) → tokenRecord
	kSession  = "ceremony/session/" // + sha256(secret) → sessionRecord
	kActive   = "ceremony/active/"  // + envelope id → "" while the envelope is sent
	kDue      = "ceremony/due/"     // + %020d unix nanos + "/" + envelope id + "/" + kind [+ "/" + ref]
	kHook     = "ceremony/webhook/" // + envelope id + "/" + delivery id → webhookDelivery
	kDelivery = "ceremony/delivery/"
)

// eventRecord is the ceremony's copy of one of its ledger events, with its receipt once known.
// A record without a receipt is an event that may not be in the ledger yet: reconcile appends
// it again after a restart.
type eventRecord struct {
	Seq     uint64   `json:"seq"`
	Event   Event    `json:"event"`
	Receipt *Receipt `json:"receipt,omitempty"`
}

type tokenRecord struct {
	Envelope string    `json:"envelope"`
	Signer   string    `json:"signer"`
	Created  time.Time `json:"created"`
}

type sessionRecord struct {
	Envelope string    `json:"envelope"`
	Signer   string    `json:"signer"`
	CSRF     string    `json:"csrf"`
	Expires  time.Time `json:"expires"`
}

func eventKey(env string, seq uint64) string { return fmt.Sprintf("%s%s/%020d", kEvent, env, seq) }

func dueKey(at time.Time, env, kind, ref string) string {
	k := fmt.Sprintf("%s%020d/%s/%s", kDue, at.UnixNano(), env, kind)
	if ref != "" {
		k += "/" + ref
	}
	return k
}

func getJSON(txn *badger.Txn, key string, v any) error {
	it, err := txn.Get([]byte(key))
	if err != nil {
		return err
	}
	return it.Value(func(b []byte) error { return json.Unmarshal(b, v) })
}

func setJSON(txn *badger.Txn, key string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return txn.Set([]byte(key), b)
}

func isNotFound(err error) bool { return errors.Is(err, badger.ErrKeyNotFound) }

// scan calls fn for each key with the prefix, in order, with its value.
func scan(txn *badger.Txn, prefix string, fn func(key string, val []byte) error) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix), PrefetchValues: true, PrefetchSize: 64})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		v, err := item.ValueCopy(nil)
		if err != nil {
			return err
		}
		if err := fn(string(item.KeyCopy(nil)), v); err != nil {
			return err
		}
	}
	return nil
}
