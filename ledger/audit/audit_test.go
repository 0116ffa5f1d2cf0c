package audit_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"flag"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/mod/sumdb/note"
	"k8s.io/klog/v2"

	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/audit"
	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

func init() {
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	fs.Set("logtostderr", "false")
	klog.SetOutput(io.Discard)
}

const origin = "audit.test/ledger"

type fixture struct {
	log    *ledger.Log
	client *audit.Client
	leaves [][]byte
}

func newFixture(t *testing.T, st ledger.Storage, n int) *fixture {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	l, err := ledger.Open(context.Background(), ledger.Options{Storage: st, Origin: origin, Signer: s, VerifierKey: vkey})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	srv := httptest.NewServer(l.Handler())
	t.Cleanup(srv.Close)
	v, _ := verify.NewVerifier(vkey)
	f := &fixture{log: l, client: &audit.Client{BaseURL: srv.URL, Verifier: v, Origin: origin}}
	f.append(t, n)
	return f
}

func (f *fixture) append(t *testing.T, n int) {
	t.Helper()
	ctx := context.Background()
	var pend []ledger.Pending
	for i := 0; i < n; i++ {
		e, err := event.New(event.PageRead, time.Now(), "env-1", "signer-1", map[string]any{"document": "doc-1", "page": 100 + len(f.leaves)})
		if err != nil {
			t.Fatal(err)
		}
		leaf, _ := e.Marshal()
		f.leaves = append(f.leaves, leaf)
		p, err := f.log.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		pend = append(pend, p)
	}
	for _, p := range pend {
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestAuditProveConsistency(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, ledger.NewMemoryStorage(), 25)
	old, err := f.client.Checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if old.Size != 25 {
		t.Fatalf("checkpoint size %d, want 25", old.Size)
	}
	f.append(t, 1200) // more than one page of entries
	var calls int
	rep, err := f.client.Audit(ctx, func(done, total uint64) { calls++ })
	if err != nil {
		t.Fatalf("Audit: %v", err)
	}
	if rep.Checkpoint.Size != 1225 || rep.Types[event.PageRead] != 1225 || calls == 0 {
		t.Fatalf("audit report %+v after %d progress calls", rep, calls)
	}
	if err := f.client.Consistency(ctx, old.Checkpoint, rep.Checkpoint.Checkpoint); err != nil {
		t.Fatalf("Consistency: %v", err)
	}
	leaf, err := f.client.ProveIndex(ctx, rep.Checkpoint.Checkpoint, 7)
	if err != nil || !bytes.Equal(leaf, f.leaves[7]) {
		t.Fatalf("ProveIndex(7) = %s, %v", leaf, err)
	}
	idx, err := f.client.ProveLeaf(ctx, rep.Checkpoint.Checkpoint, f.leaves[1000])
	if err != nil || idx != 1000 {
		t.Fatalf("ProveLeaf = %d, %v", idx, err)
	}
	if _, err := f.client.ProveLeaf(ctx, rep.Checkpoint.Checkpoint, []byte(`{"not":"there"}`)); err == nil {
		t.Fatal("ProveLeaf of an absent leaf succeeded")
	}
	// A checkpoint signed by the right key for another history is caught.
	forged := old.Checkpoint
	forged.Hash = verify.LeafHash([]byte("fork"))
	if err := f.client.Consistency(ctx, forged, rep.Checkpoint.Checkpoint); err == nil {
		t.Fatal("Consistency from a forked checkpoint succeeded")
	}
}

// TestAuditDetectsTamperedLeaf edits a stored leaf directly in Badger, as an operator with
// access to the disk could, and checks that the audit reports it.
func TestAuditDetectsTamperedLeaf(t *testing.T) {
	ctx := context.Background()
	store, err := badgerstore.Open(ctx, t.TempDir(), badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	f := newFixture(t, ledger.NewBadgerStorage(store), 40)
	if _, err := f.client.Audit(ctx, nil); err != nil {
		t.Fatalf("audit before tampering: %v", err)
	}
	victim := f.leaves[17]
	forged := bytes.Replace(victim, []byte(`"page":117`), []byte(`"page":118`), 1)
	if bytes.Equal(victim, forged) {
		t.Fatal("test setup: the victim leaf has no page 117")
	}
	edited := 0
	err = store.DB().Update(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.DefaultIteratorOptions)
		defer it.Close()
		type kv struct{ k, v []byte }
		var edits []kv
		for it.Rewind(); it.Valid(); it.Next() {
			v, err := it.Item().ValueCopy(nil)
			if err != nil {
				return err
			}
			if bytes.Contains(v, victim) {
				edits = append(edits, kv{it.Item().KeyCopy(nil), bytes.Replace(v, victim, forged, 1)})
			}
		}
		for _, e := range edits {
			if err := txn.Set(e.k, e.v); err != nil {
				return err
			}
			edited++
		}
		return nil
	})
	if err != nil || edited == 0 {
		t.Fatalf("tampering: %d records edited, %v", edited, err)
	}
	_, err = f.client.Audit(ctx, nil)
	if err == nil {
		t.Fatal("audit after tampering with a leaf succeeded")
	}
	if !strings.Contains(err.Error(), "do not match the signed checkpoint") {
		t.Fatalf("audit error %q does not report the root mismatch", err)
	}
	cp, _ := f.client.Checkpoint(ctx)
	if _, err := f.client.ProveIndex(ctx, cp.Checkpoint, 17); err == nil {
		t.Fatal("the inclusion proof of the tampered leaf verified")
	}
}
