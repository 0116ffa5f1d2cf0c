package ca

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca/keys"
)

// testKeys is one hierarchy shared by the package's tests (the ceremony costs PBKDF2 rounds).
var testKeys *keys.Set

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "paraphe-ca-keys-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	testKeys, err = keys.Init(context.Background(), keys.Options{
		Dir: dir, Passphrase: []byte("test passphrase"), Organization: "Paraphe Test", Country: "FR",
		LedgerKeyName: "test.paraphe.example/ledger", BaseURL: "http://127.0.0.1:8080",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	testKeys.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func openDB(tb testing.TB, dir string) *badger.DB {
	tb.Helper()
	opt := badger.DefaultOptions(dir).WithLogger(nil).WithSyncWrites(true).
		WithMemTableSize(8 << 20).WithBlockCacheSize(8 << 20).WithValueLogFileSize(16 << 20)
	if dir == "" {
		opt = opt.WithInMemory(true)
	}
	db, err := badger.Open(opt)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

type testCA struct {
	*CA
	db    *badger.DB
	clock *clock
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// newTestCA returns a CA over a fresh in-memory database (or the given one) with a settable
// clock.
func newTestCA(tb testing.TB, db *badger.DB, mod ...func(*Options)) *testCA {
	tb.Helper()
	if db == nil {
		db = openDB(tb, "")
	}
	clk := &clock{t: time.Now().UTC().Truncate(time.Second)}
	o := Options{Keys: testKeys, DB: db, BaseURL: "http://127.0.0.1:8080", Now: clk.now}
	for _, f := range mod {
		f(&o)
	}
	c, err := New(context.Background(), o)
	if err != nil {
		tb.Fatal(err)
	}
	return &testCA{c, db, clk}
}

func signerKey(tb testing.TB) *ecdsa.PrivateKey {
	tb.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func leafHash(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func signerRequest(tb testing.TB) SignerRequest {
	return SignerRequest{
		Name:      "Jeanne d'Arc-Müller",
		Email:     "jeanne@example.org",
		PublicKey: signerKey(tb).Public(),
		Binding:   Binding{LeafIndex: 42, LeafHash: leafHash("otp.verified")},
	}
}

type badgerTxn = badger.Txn

func countPrefix(txn *badger.Txn, prefix string) int {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(prefix)})
	defer it.Close()
	n := 0
	for it.Rewind(); it.Valid(); it.Next() {
		n++
	}
	return n
}
