package ledger

import (
	"context"
	"sync"
	"testing"

	"github.com/paraphe/paraphe/ledger/badgerstore"
	"github.com/paraphe/paraphe/ledger/verify"
)

func openBadger(t testing.TB, dir string) *badgerstore.Store {
	t.Helper()
	s, err := badgerstore.Open(context.Background(), dir, badgerstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestBadgerRestart checks that the tree, its ID and the checkpoint history survive a restart,
// that the log keeps growing consistently, and that an identical event appended again is
// stored once and gets the receipt of the first.
func TestBadgerRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	k := newKeys(t)
	v, _ := verify.NewVerifier(k.vkey)

	store := openBadger(t, dir)
	l, err := Open(ctx, testOptions(t, NewBadgerStorage(store), k))
	if err != nil {
		t.Fatal(err)
	}
	tree := l.tree.TreeId
	var first Receipt
	dup := pageRead(t, 1)
	for i := 0; i < 10; i++ {
		e := pageRead(t, i+1)
		if i == 0 {
			e = dup
		}
		p, err := l.Append(ctx, e)
		if err != nil {
			t.Fatal(err)
		}
		r, err := p.Wait(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		}
	}
	old, _ := l.Checkpoint(ctx)
	l.Close()
	store.Close()

	store = openBadger(t, dir)
	t.Cleanup(func() { store.Close() }) // after the log's Cleanup: Cleanups run last-in first-out
	l = openLog(t, testOptions(t, NewBadgerStorage(store), k))
	if l.tree.TreeId != tree {
		t.Fatalf("tree %d after restart, want %d", l.tree.TreeId, tree)
	}
	cp, _ := l.Checkpoint(ctx)
	if cp.Size != 10 || string(cp.Note) != string(old.Note) {
		t.Fatalf("checkpoint after restart: size %d, want the same size 10 checkpoint", cp.Size)
	}
	p, err := l.Append(ctx, dup)
	if err != nil {
		t.Fatalf("appending the same event again: %v", err)
	}
	r, err := p.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != first.Index {
		t.Fatalf("the repeated event got index %d, the first %d", r.Index, first.Index)
	}
	for i := 0; i < 5; i++ {
		p, err := l.Append(ctx, pageRead(t, 100+i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	latest, _ := l.Checkpoint(ctx)
	if latest.Size != 15 {
		t.Fatalf("size %d after 10 + 1 repeated + 5 appends, want 15 (the repeat is stored once)", latest.Size)
	}
	newer, err := verify.OpenCheckpoint(latest.Note, v, testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	l.Close() // writes the checkpoints still on their way to storage
	l = openLog(t, testOptions(t, NewBadgerStorage(store), k))
	hist, err := l.CheckpointHistory(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(hist) < 3 || hist[0].Size != 0 || hist[len(hist)-1].Size != 15 {
		t.Fatalf("history of %d checkpoints from %d to %d", len(hist), hist[0].Size, hist[len(hist)-1].Size)
	}
	for i, h := range hist {
		older, err := verify.OpenCheckpoint(h.Note, v, testOrigin)
		if err != nil {
			t.Fatalf("stored checkpoint %d: %v", i, err)
		}
		if i > 0 && h.Size <= hist[i-1].Size {
			t.Fatalf("history not increasing at %d", i)
		}
		var proof [][]byte
		if older.Size > 0 {
			if proof, err = l.consistencyProof(ctx, older.Size, newer.Size); err != nil {
				t.Fatal(err)
			}
		}
		if err := verify.Consistency(older, newer, proof); err != nil {
			t.Fatalf("stored checkpoint %d (size %d): %v", i, older.Size, err)
		}
	}
}

// TestBadgerConcurrentDuplicates appends one event from many goroutines at once, as a
// reconciliation after a crash may: the storage keeps one leaf and every caller gets its
// receipt.
func TestBadgerConcurrentDuplicates(t *testing.T) {
	ctx := context.Background()
	store := openBadger(t, t.TempDir())
	defer store.Close()
	l, err := Open(ctx, testOptions(t, NewBadgerStorage(store), newKeys(t)))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close() // before the store
	for round := 0; round < 5; round++ {
		e := pageRead(t, round+1)
		const n = 12
		idx := make(chan uint64, n)
		errs := make(chan error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p, err := l.Append(ctx, e)
				if err == nil {
					var r Receipt
					if r, err = p.Wait(ctx); err == nil {
						idx <- r.Index
					}
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(idx)
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		for i := range idx {
			if i != uint64(round) {
				t.Fatalf("round %d: a duplicate got index %d", round, i)
			}
		}
	}
	if cp, _ := l.Checkpoint(ctx); cp.Size != 5 {
		t.Fatalf("size %d after 5 events appended 12 times each, want 5", cp.Size)
	}
}
