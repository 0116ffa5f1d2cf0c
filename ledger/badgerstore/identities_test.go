package badgerstore

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"testing"
	"time"

	"github.com/google/trillian"
	stestonly "github.com/google/trillian/storage/testonly"
	"github.com/google/trillian/types"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func testID(i int) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	h := sha256.Sum256(b[:])
	return h[:]
}

// TestBloomChain: nothing added is ever reported absent, through several growths, and the
// false-positive rate stays near its target.
func TestBloomChain(t *testing.T) {
	c := &bloomChain{seed: newIdentities().seed}
	c.grow(0)
	const n = 5 * bloomMinCapacity
	for i := range n {
		c.add(testID(i))
	}
	if len(c.filters) < 3 {
		t.Fatalf("%d filters after %d additions from a capacity of %d: the chain did not grow", len(c.filters), n, bloomMinCapacity)
	}
	for i := range n {
		if !c.mayContain(testID(i)) {
			t.Fatalf("identity %d was added but is reported absent", i)
		}
	}
	fp := 0
	const probes = 100_000
	for i := n; i < n+probes; i++ {
		if c.mayContain(testID(i)) {
			fp++
		}
	}
	// Each filter is sized for 1%; a chain of them may answer "maybe" for any.
	if rate := float64(fp) / probes; rate > float64(len(c.filters))*bloomFalsePositive {
		t.Fatalf("false-positive rate %.4f over %d filters", rate, len(c.filters))
	}
}

// TestIdentitiesAfterRestart: the identities are read back from the database on the first
// write after Open, so a leaf queued before a restart is found again (AlreadyExists, one leaf
// integrated), without a lookup for the new ones.
func TestIdentitiesAfterRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := Open(ctx, dir, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	tree := mustCreateTree(t, s.AdminStorage(), stestonly.LogTree)
	mustStoreRoot(t, s.LogStorage(), tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: 1})
	before := createTestLeaves(100, 0)
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
	batch := append(createTestLeaves(50, 100), before[10:60]...)
	got, err := s.LogStorage().QueueLeaves(ctx, tree, batch, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range got {
		if exists := status.FromProto(r.Status).Code() == codes.AlreadyExists; exists != (i >= 50) {
			t.Errorf("leaf %d: status %v after the restart", i, r.Status)
		}
	}
	if n := integrateAll(t, s, tree); n != 150 {
		t.Fatalf("integrated %d leaves, want 150", n)
	}
}

// TestConcurrentQueueSameNewLeaf: many callers queue the same new leaf at once (each with
// other new leaves, so that the batches skip their lookups); it is queued exactly once.
func TestConcurrentQueueSameNewLeaf(t *testing.T) {
	s, tree := newSequencedTree(t)
	ctx := context.Background()
	const callers = 16
	shared := createTestLeaves(1, 1_000_000)[0]
	var wg sync.WaitGroup
	queued := make([]int, callers)
	for c := range callers {
		wg.Go(func() {
			batch := append(createTestLeaves(20, int64(c*100)), shared)
			got, err := s.LogStorage().QueueLeaves(ctx, tree, batch, time.Now())
			if err != nil {
				t.Error(err)
				return
			}
			if got[len(got)-1].Status == nil {
				queued[c] = 1
			}
		})
	}
	wg.Wait()
	total := 0
	for _, q := range queued {
		total += q
	}
	if total != 1 {
		t.Fatalf("the shared leaf was queued by %d callers, want 1", total)
	}
	if n := integrateAll(t, s, tree); n != callers*20+1 {
		t.Fatalf("integrated %d leaves, want %d", n, callers*20+1)
	}
}

// TestSequencedLeavesAreKnown: an identity stored by AddSequencedLeaves is known to the
// filters of its tree (a second call is refused for it).
func TestSequencedLeavesAreKnown(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	tree := mustCreateTree(t, s.AdminStorage(), stestonly.PreorderedLogTree)
	mustStoreRoot(t, s.LogStorage(), tree, &types.LogRootV1{})
	leaves := createTestLeaves(30, 0)
	if _, err := s.LogStorage().AddSequencedLeaves(ctx, tree, leaves, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.leafMu.Lock()
	known, err := s.ids.tree(s, tree.TreeId)
	s.leafMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	for i, l := range leaves {
		if !known.mayContain(l.LeafIdentityHash) {
			t.Fatalf("leaf %d stored by AddSequencedLeaves is unknown to the filters", i)
		}
	}
	again := []*trillian.LogLeaf{leaves[3]}
	again[0].LeafIndex = 100
	got, err := s.LogStorage().AddSequencedLeaves(ctx, tree, again, time.Now())
	if err != nil || status.FromProto(got[0].Status).Code() != codes.FailedPrecondition {
		t.Fatalf("second AddSequencedLeaves of a stored identity: %v %v", got, err)
	}
}
