package badgerstore

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/trillian"
	"github.com/google/trillian/log"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/storage"
	stestonly "github.com/google/trillian/storage/testonly"
	"github.com/google/trillian/types"
	"github.com/google/trillian/util/clock"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// newSequencedTree returns a store and a LOG tree initialised as the sequencer expects (an
// empty root with a real hash and timestamp).
func newSequencedTree(t *testing.T) (*Store, *trillian.Tree) {
	t.Helper()
	s := newTestStore(t)
	tree := mustCreateTree(t, s.AdminStorage(), stestonly.LogTree)
	mustStoreRoot(t, s.LogStorage(), tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: 1})
	return s, tree
}

func integrateAll(t *testing.T, s *Store, tree *trillian.Tree) int {
	t.Helper()
	total := 0
	for {
		n, err := log.IntegrateBatch(context.Background(), tree, 100, 0, time.Hour, clock.System, s.LogStorage(), quota.Noop())
		if err != nil {
			t.Fatalf("IntegrateBatch: %v", err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

func lowWater(s *Store, treeID int64) uint64 {
	s.queue.mu.Lock()
	defer s.queue.mu.Unlock()
	return s.queue.lwm[treeID]
}

// TestLowWaterMarkAdvances checks that after the queue is drained the next pass starts past
// every deleted entry, so it never walks their tombstones.
func TestLowWaterMarkAdvances(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	for i := range 5 {
		if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(200, int64(i*200)), time.Now()); err != nil {
			t.Fatalf("QueueLeaves: %v", err)
		}
		integrateAll(t, s, tree)
	}
	if got, want := lowWater(s, tree.TreeId), s.queue.next; got != want {
		t.Errorf("low-water mark %d after draining, want %d (every allocated number)", got, want)
	}
	// A pass now visits no entry at all.
	runTX(t, s.LogStorage(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		ltx := tx.(*logTX)
		if ltx.qStart != s.queue.next {
			t.Errorf("pass starts at %d, want %d", ltx.qStart, s.queue.next)
		}
		got, err := tx.DequeueLeaves(ctx, 10, time.Now())
		if err != nil || len(got) != 0 {
			t.Errorf("DequeueLeaves on a drained queue = %d leaves, %v", len(got), err)
		}
		return nil
	})
}

// TestLowWaterMarkWaitsForLateCommit: a QueueLeaves call that took its sequence numbers first
// but commits last must not be skipped by passes that ran in between.
func TestLowWaterMarkWaitsForLateCommit(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	late := createTestLeaves(3, 1000)
	start, err := s.allocQueueSeqs(len(late)) // the late call has its numbers, not yet committed
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(50, 0), time.Now()); err != nil {
		t.Fatalf("QueueLeaves: %v", err)
	}
	if n := integrateAll(t, s, tree); n != 50 {
		t.Fatalf("integrated %d, want 50", n)
	}
	if lw := lowWater(s, tree.TreeId); lw > start {
		t.Fatalf("low-water mark %d passed the in-flight number %d", lw, start)
	}
	s.leafMu.Lock()
	known, err := s.ids.tree(s, tree.TreeId)
	if err != nil {
		t.Fatal(err)
	}
	txn := s.db.NewTransaction(true)
	if _, err := queueLeavesTxn(s, txn, tree.TreeId, late, time.Now().UnixNano(), start, known); err != nil {
		t.Fatal(err)
	}
	if err := txn.Commit(); err != nil {
		t.Fatal(err)
	}
	s.leafMu.Unlock()
	s.releaseQueueSeqs(start)
	if n := integrateAll(t, s, tree); n != 3 {
		t.Fatalf("integrated %d late leaves, want 3", n)
	}
}

// TestClockStepBackwards: leaves stamped by a clock that was an hour ahead (and has since
// been corrected) are integrated now, in arrival order, not an hour later.
func TestClockStepBackwards(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	ahead := createTestLeaves(5, 0)
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, ahead, time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	now := createTestLeaves(5, 5)
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, now, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := integrateAll(t, s, tree); n != 10 {
		t.Fatalf("integrated %d leaves, want 10", n)
	}
	runTX(t, s.LogStorage(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		got, err := tx.GetLeavesByRange(ctx, 0, 10)
		if err != nil {
			return err
		}
		for i, l := range append(ahead, now...) {
			if !bytes.Equal(got[i].LeafIdentityHash, l.LeafIdentityHash) {
				t.Errorf("index %d holds %x, want %x (arrival order)", i, got[i].LeafIdentityHash, l.LeafIdentityHash)
			}
		}
		return nil
	})
}

// TestQueueOrderSurvivesRestart: sequence numbers only grow across a reopen, so leaves queued
// after a restart come after those queued before it.
func TestQueueOrderSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	tree := mustCreateTree(t, s.AdminStorage(), stestonly.LogTree)
	mustStoreRoot(t, s.LogStorage(), tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: 1})
	before, after := createTestLeaves(3, 0), createTestLeaves(3, 3)
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, before, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(ctx, dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Stamp the later leaves earlier, as a clock stepped back across the restart would.
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, after, time.Now().Add(-time.Minute)); err != nil {
		t.Fatal(err)
	}
	runTX(t, s.LogStorage(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		got, err := tx.DequeueLeaves(ctx, 10, time.Now())
		if err != nil || len(got) != 6 {
			t.Fatalf("DequeueLeaves = %d, %v; want 6", len(got), err)
		}
		for i, l := range append(before, after...) {
			if !bytes.Equal(got[i].LeafIdentityHash, l.LeafIdentityHash) {
				t.Errorf("dequeued[%d] = %x, want %x", i, got[i].LeafIdentityHash, l.LeafIdentityHash)
			}
		}
		return nil
	})
}

// TestBatchTooBig: a batch beyond Badger's transaction limit is refused whole.
func TestBatchTooBig(t *testing.T) {
	s, tree := newSequencedTree(t)
	big := make([]byte, s.DB().MaxBatchSize()/4)
	var leaves []*trillian.LogLeaf
	for i := range 5 {
		v := append([]byte(fmt.Sprint(i)), big...)
		h := sha256.Sum256(v)
		leaves = append(leaves, &trillian.LogLeaf{LeafValue: v, LeafIdentityHash: h[:], MerkleLeafHash: h[:]})
	}
	_, err := s.LogStorage().QueueLeaves(context.Background(), tree, leaves, time.Now())
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("QueueLeaves of an oversized batch = %v, want ResourceExhausted", err)
	}
	if n, _ := countQueued(t, s, tree.TreeId); n != 0 {
		t.Errorf("%d queue entries after a refused batch, want 0", n)
	}
	// The first leaf alone fits and was not stored by the refused call.
	res, err := s.LogStorage().QueueLeaves(context.Background(), tree, leaves[:1], time.Now())
	if err != nil || res[0].Status != nil {
		t.Fatalf("QueueLeaves of one leaf = %v, %v; want it queued as new", res, err)
	}
}

// TestBadInput: malformed leaves are refused with a precise code before anything is written.
func TestBadInput(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	good := createTestLeaves(1, 0)[0]
	short := createTestLeaves(1, 1)[0]
	short.LeafIdentityHash = short.LeafIdentityHash[:5]
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, []*trillian.LogLeaf{good, short}, time.Now()); status.Code(err) != codes.InvalidArgument {
		t.Errorf("QueueLeaves with a short identity hash = %v, want InvalidArgument", err)
	}
	if n, _ := countQueued(t, s, tree.TreeId); n != 0 {
		t.Errorf("%d entries queued by a refused call", n)
	}
	runTX(t, s.LogStorage(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		if _, err := tx.DequeueLeaves(ctx, 0, time.Now()); status.Code(err) != codes.InvalidArgument {
			t.Errorf("DequeueLeaves(limit 0) = %v, want InvalidArgument", err)
		}
		if err := tx.UpdateSequencedLeaves(ctx, []*trillian.LogLeaf{good}); status.Code(err) != codes.FailedPrecondition {
			t.Errorf("UpdateSequencedLeaves of a leaf not dequeued = %v, want FailedPrecondition", err)
		}
		if err := tx.StoreSignedLogRoot(ctx, &trillian.SignedLogRoot{LogRoot: []byte{0, 1, 2}}); status.Code(err) != codes.InvalidArgument {
			t.Errorf("StoreSignedLogRoot(garbage) = %v, want InvalidArgument", err)
		}
		return nil
	})
}

// TestConcurrentQueueAndSequence: writers queue overlapping leaves while two sequencer loops
// race on the same tree. Every unique leaf ends up in the tree exactly once, and the root
// matches one recomputed from the stored leaves.
func TestConcurrentQueueAndSequence(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const writers, perWriter = 8, 60
	unique := map[string]bool{}
	var batches [writers][]*trillian.LogLeaf
	for w := range writers {
		batches[w] = createTestLeaves(perWriter, int64((w/2)*perWriter)) // pairs of writers duplicate each other
		for _, l := range batches[w] {
			unique[string(l.LeafIdentityHash)] = true
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, writers+2)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWriter; i += 6 {
				if _, err := s.LogStorage().QueueLeaves(ctx, tree, batches[w][i:i+6], time.Now()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	seqDone := make(chan struct{})
	var seqWG sync.WaitGroup
	for range 2 {
		seqWG.Add(1)
		go func() {
			defer seqWG.Done()
			for {
				select {
				case <-seqDone:
					return
				default:
				}
				if _, err := log.IntegrateBatch(ctx, tree, 50, 0, time.Hour, clock.System, s.LogStorage(), quota.Noop()); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(seqDone)
	seqWG.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent run: %v", err)
	}
	integrateAll(t, s, tree)

	tx, err := s.LogStorage().SnapshotForTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	slr, err := tx.LatestSignedLogRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var root types.LogRootV1
	if err := root.UnmarshalBinary(slr.LogRoot); err != nil {
		t.Fatal(err)
	}
	if int(root.TreeSize) != len(unique) {
		t.Fatalf("tree size %d, want %d unique leaves", root.TreeSize, len(unique))
	}
	leaves, err := tx.GetLeavesByRange(ctx, 0, int64(root.TreeSize))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	hashes := make([][]byte, len(leaves))
	for i, l := range leaves {
		if seen[string(l.LeafIdentityHash)] {
			t.Fatalf("leaf %x sequenced twice", l.LeafIdentityHash)
		}
		seen[string(l.LeafIdentityHash)] = true
		hashes[i] = l.MerkleLeafHash
	}
	if got := rootOf(hashes); !bytes.Equal(got, root.RootHash) {
		t.Errorf("stored root %x, recomputed %x", root.RootHash, got)
	}
}

// rootOf computes the RFC 6962 root of leaf hashes directly from the definition.
func rootOf(h [][]byte) []byte {
	switch len(h) {
	case 0:
		return rfc6962.DefaultHasher.EmptyRoot()
	case 1:
		return h[0]
	}
	k := 1
	for k*2 < len(h) {
		k *= 2
	}
	return rfc6962.DefaultHasher.HashChildren(rootOf(h[:k]), rootOf(h[k:]))
}

// TestTransactionConcurrentUse calls one transaction from several goroutines (run with
// -race): the transaction serialises them.
func TestTransactionConcurrentUse(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(300, 0), time.Now()); err != nil {
		t.Fatal(err)
	}
	integrateAll(t, s, tree)
	runTX(t, s.LogStorage(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 20 {
					idx := int64((g*20 + i) % 300)
					got, err := tx.GetLeavesByRange(ctx, idx, 1)
					if err != nil || len(got) != 1 {
						t.Errorf("GetLeavesByRange(%d) = %d, %v", idx, len(got), err)
						return
					}
					if _, err := tx.GetLeavesByHash(ctx, [][]byte{got[0].MerkleLeafHash}, false); err != nil {
						t.Errorf("GetLeavesByHash: %v", err)
						return
					}
					if _, err := tx.DequeueLeaves(ctx, 5, time.Now()); err != nil {
						t.Errorf("DequeueLeaves: %v", err)
						return
					}
				}
			}()
		}
		wg.Wait()
		return nil
	})
}

// TestUpdateSequencedLeavesNeverOverwrites: an index that already holds a leaf, or one given
// twice, is refused and nothing of the call is written.
func TestUpdateSequencedLeavesNeverOverwrites(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	ls := s.LogStorage()
	if _, err := ls.QueueLeaves(ctx, tree, createTestLeaves(4, 0), time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := integrateAll(t, s, tree); n != 4 {
		t.Fatalf("integrated %d, want 4", n)
	}
	if _, err := ls.QueueLeaves(ctx, tree, createTestLeaves(3, 10), time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		indexes []int64
		code    codes.Code
	}{
		{"taken", []int64{4, 5, 3}, codes.FailedPrecondition},
		{"taken far below", []int64{0, 40, 41}, codes.FailedPrecondition},
		{"twice", []int64{4, 4, 5}, codes.InvalidArgument},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ls.ReadWriteTransaction(ctx, tree, func(ctx context.Context, tx storage.LogTreeTX) error {
				got, err := tx.DequeueLeaves(ctx, 3, time.Now())
				if err != nil || len(got) != 3 {
					t.Fatalf("DequeueLeaves = %d, %v", len(got), err)
				}
				for i, l := range got {
					l.LeafIndex, l.IntegrateTimestamp = tc.indexes[i], timestamppb.Now()
				}
				return tx.UpdateSequencedLeaves(ctx, got)
			})
			if status.Code(err) != tc.code {
				t.Fatalf("UpdateSequencedLeaves(%v) = %v, want %v", tc.indexes, err, tc.code)
			}
		})
	}
	if n, _ := countQueued(t, s, tree.TreeId); n != 3 {
		t.Errorf("%d leaves still queued, want 3 (refused calls change nothing)", n)
	}
	if n := integrateAll(t, s, tree); n != 3 {
		t.Errorf("integrated %d, want the 3 queued leaves", n)
	}
}

// TestCloseWhileInUse: Close waits for calls in progress; calls racing with or following it
// fail with an error instead of reaching a closed Badger database (which panics).
func TestCloseWhileInUse(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, t.TempDir(), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	tree := mustCreateTree(t, s.AdminStorage(), stestonly.LogTree)
	mustStoreRoot(t, s.LogStorage(), tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: 1})
	snap, err := s.LogStorage().SnapshotForTree(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err1 := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(5, int64(g*100000+i*5)), time.Now())
				_, err2 := log.IntegrateBatch(ctx, tree, 50, 0, time.Hour, clock.System, s.LogStorage(), quota.Noop())
				if err1 != nil || err2 != nil {
					return // closed
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	wg.Wait()
	if _, err := s.LogStorage().QueueLeaves(ctx, tree, createTestLeaves(1, -1), time.Now()); err == nil {
		t.Error("QueueLeaves after Close succeeded")
	}
	if _, err := snap.GetLeavesByRange(ctx, 0, 1); err == nil {
		t.Error("a snapshot used after Close succeeded")
	}
	if err := snap.Close(); err != nil {
		t.Errorf("closing a snapshot after Close: %v", err)
	}
}

// TestQueueLargeBatchWithDuplicates covers the parallel lookup of a large batch: leaves stored
// by an earlier call and leaves repeated within the batch come back as AlreadyExists with the
// stored leaf, and only the new ones are queued, once each.
func TestQueueLargeBatchWithDuplicates(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	ls := s.LogStorage()
	first := createTestLeaves(40, 0)
	if _, err := ls.QueueLeaves(ctx, tree, first, time.Now()); err != nil {
		t.Fatal(err)
	}
	// 20 stored leaves (every other one of the first call), 30 new ones, and each new one
	// whose number is a multiple of 3 a second time.
	var batch []*trillian.LogLeaf
	for i := 0; i < 40; i += 2 {
		batch = append(batch, first[i])
	}
	fresh := createTestLeaves(30, 100)
	batch = append(batch, fresh...)
	for i := 0; i < 30; i += 3 {
		batch = append(batch, fresh[i])
	}
	got, err := ls.QueueLeaves(ctx, tree, batch, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(batch) {
		t.Fatalf("%d results for %d leaves", len(got), len(batch))
	}
	for i, r := range got {
		wantExists := i < 20 || i >= 50
		if exists := status.FromProto(r.Status).Code() == codes.AlreadyExists; exists != wantExists {
			t.Errorf("leaf %d: status %v, want AlreadyExists %v", i, r.Status, wantExists)
		}
		if !bytes.Equal(r.Leaf.LeafValue, batch[i].LeafValue) {
			t.Errorf("leaf %d: value %q, want %q", i, r.Leaf.LeafValue, batch[i].LeafValue)
		}
	}
	if n := integrateAll(t, s, tree); n != 70 {
		t.Fatalf("integrated %d leaves, want 70 (40 + 30 new)", n)
	}
}
