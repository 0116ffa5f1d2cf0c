package badgerstore

import (
	"context"
	"crypto/sha256"
	"fmt"
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
)

// Storage-level Go benchmarks, on disk with SyncWrites (the side-by-side comparison with
// PostgreSQL is scripts/bench ledger). Run: go test -run '^$' -bench . ./ledger/badgerstore/

func benchStore(b *testing.B) (*Store, *trillian.Tree) {
	b.Helper()
	s, err := Open(context.Background(), b.TempDir(), Options{Logger: testOptions().Logger})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	tree := mustCreateTree(b, s.AdminStorage(), stestonly.LogTree)
	mustStoreRoot(b, s.LogStorage(), tree, &types.LogRootV1{RootHash: rfc6962.DefaultHasher.EmptyRoot(), TimestampNanos: 1})
	return s, tree
}

func benchLeaves(run, n int) []*trillian.LogLeaf {
	leaves := make([]*trillian.LogLeaf, n)
	for i := range leaves {
		v := []byte(fmt.Sprintf("bench %d %d %0480d", run, i, 0))
		h := sha256.Sum256(v)
		leaves[i] = &trillian.LogLeaf{LeafValue: v, LeafIdentityHash: h[:], MerkleLeafHash: rfc6962.DefaultHasher.HashLeaf(v)}
	}
	return leaves
}

// BenchmarkQueueLeaves: one durable QueueLeaves call per iteration (a group-commit batch).
func BenchmarkQueueLeaves(b *testing.B) {
	for _, n := range []int{1, 64, 1000} {
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			s, tree := benchStore(b)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				b.StopTimer()
				leaves := benchLeaves(i, n)
				b.StartTimer()
				if _, err := s.LogStorage().QueueLeaves(context.Background(), tree, leaves, time.Now()); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "leaves/s")
		})
	}
}

// BenchmarkIntegrateBatch: one sequencer pass of 1000 queued leaves per iteration.
func BenchmarkIntegrateBatch(b *testing.B) {
	s, tree := benchStore(b)
	ctx := context.Background()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		if _, err := s.LogStorage().QueueLeaves(ctx, tree, benchLeaves(i, 1000), time.Now()); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		n, err := log.IntegrateBatch(ctx, tree, 1000, 0, time.Hour, clock.System, s.LogStorage(), quota.Noop())
		if err != nil || n != 1000 {
			b.Fatalf("IntegrateBatch = %d, %v", n, err)
		}
	}
	b.ReportMetric(float64(1000*b.N)/b.Elapsed().Seconds(), "leaves/s")
}

// BenchmarkGetLeavesByRange reads pages of 100 leaves from a 10k-leaf tree.
func BenchmarkGetLeavesByRange(b *testing.B) {
	s, tree := benchStore(b)
	ctx := context.Background()
	for i := range 10 {
		if _, err := s.LogStorage().QueueLeaves(ctx, tree, benchLeaves(i, 1000), time.Now()); err != nil {
			b.Fatal(err)
		}
		if _, err := log.IntegrateBatch(ctx, tree, 1000, 0, time.Hour, clock.System, s.LogStorage(), quota.Noop()); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		tx, err := s.LogStorage().SnapshotForTree(ctx, tree)
		if err != nil {
			b.Fatal(err)
		}
		if got, err := tx.GetLeavesByRange(ctx, int64(i*100%9900), 100); err != nil || len(got) != 100 {
			b.Fatalf("GetLeavesByRange = %d, %v", len(got), err)
		}
		tx.Close()
	}
}

func BenchmarkDecodeLeafRecord(b *testing.B) {
	rec := (&leafRecord{queueNanos: 1, merkleHash: make([]byte, 32), value: make([]byte, 512), extra: nil}).marshal()
	for b.Loop() {
		if _, err := unmarshalLeafRecord(rec); err != nil {
			b.Fatal(err)
		}
	}
}

var _ storage.LogStorage = (*logStorage)(nil)
