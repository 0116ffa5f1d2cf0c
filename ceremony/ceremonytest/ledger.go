package ceremonytest

import (
	"context"
	"crypto/rand"
	"log/slog"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/badgerstore"
)

// Ledger is a real ledger for tests: Trillian over the appliance's Badger storage
// (ledger/badgerstore) on an in-memory Badger database.
type Ledger struct {
	Log         *ledger.Log
	VerifierKey string
	Origin      string
}

// NewLedger opens an in-memory ledger, closed when the test ends.
func NewLedger(t testing.TB) *Ledger {
	t.Helper()
	const origin = "paraphe.test/ledger"
	skey, vkey, err := note.GenerateKey(rand.Reader, "paraphe.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions("").WithInMemory(true).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	store := badgerstore.New(db, badgerstore.Options{Logger: slog.New(slog.DiscardHandler)})
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: ledger.NewBadgerStorage(store), Origin: origin, Signer: signer, VerifierKey: vkey})
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &Ledger{Log: l, VerifierKey: vkey, Origin: origin}
}

// NewDiskLedger opens a ledger as the appliance does: Trillian over ledger/badgerstore on disk
// in dir, with synchronous writes, and checkpoints timestamped by ts when it is not nil. It is
// closed when the test ends.
func NewDiskLedger(t testing.TB, dir string, ts ledger.Timestamper) *Ledger {
	t.Helper()
	const origin = "paraphe.test/ledger"
	skey, vkey, err := note.GenerateKey(rand.Reader, "paraphe.test")
	if err != nil {
		t.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	store, err := badgerstore.Open(context.Background(), dir, badgerstore.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: ledger.NewBadgerStorage(store), Origin: origin, Signer: signer,
		VerifierKey: vkey, Timestamper: ts, GroupCommitWindow: time.Millisecond}) // the appliance's default window
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &Ledger{Log: l, VerifierKey: vkey, Origin: origin}
}

// Ceremony returns the ledger as the ceremony sees it.
func (l *Ledger) Ceremony() ceremony.Ledger { return ceremony.LogLedger{Log: l.Log} }
