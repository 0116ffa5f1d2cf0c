package ceremonytest

import (
	"context"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ledger"
)

// Ledger is a real ledger (Trillian over in-memory storage) for tests.
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
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: ledger.NewMemoryStorage(), Origin: origin, Signer: signer, VerifierKey: vkey})
	if err != nil {
		t.Fatalf("open ledger: %v", err)
	}
	t.Cleanup(func() { l.Close() })
	return &Ledger{Log: l, VerifierKey: vkey, Origin: origin}
}

// Ceremony returns the ledger as the ceremony sees it.
func (l *Ledger) Ceremony() ceremony.Ledger { return ceremony.LogLedger{Log: l.Log} }
