package api

import (
	"context"
	"strings"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

func memDB(t *testing.T) *badger.DB {
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestKeys(t *testing.T) {
	db := memDB(t)
	ctx := context.Background()
	k, err := NewKey()
	if err != nil || len(k) != 43 {
		t.Fatalf("NewKey: %q %v", k, err)
	}
	if k2, _ := NewKey(); k2 == k {
		t.Fatal("two equal keys")
	}
	if err := RegisterKey(ctx, db, "office", "short"); err == nil {
		t.Fatal("a short key was registered")
	}
	if err := RegisterKey(ctx, db, " ", k); err == nil {
		t.Fatal("a key without a name was registered")
	}
	if err := RegisterKey(ctx, db, "office", k); err != nil {
		t.Fatal(err)
	}
	if err := RegisterKey(ctx, db, "office", k); err != nil {
		t.Fatalf("registering again: %v", err)
	}
	if err := RegisterKey(ctx, db, "other", k); err == nil {
		t.Fatal("one key under two names")
	}
	if name, err := lookupKey(db, k); err != nil || name != "office" {
		t.Fatalf("lookup: %q %v", name, err)
	}
	if name, err := lookupKey(db, strings.ToUpper(k)); err != nil || name != "" {
		t.Fatalf("lookup of another key: %q %v", name, err)
	}
	// Only the hash is stored.
	db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			v, _ := it.Item().ValueCopy(nil)
			if strings.Contains(string(it.Item().Key())+string(v), k) {
				t.Fatal("the key is stored in clear")
			}
		}
		return nil
	})
}
