package badgerstore

import (
	"os"

	"context"
	"github.com/google/trillian/log"
	"io"
	"log/slog"
	"testing"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/types"
)

// testOptions keeps Badger small so that the suites, which open many stores, stay fast.
func testOptions() Options {
	return Options{
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Badger: func(o badger.Options) badger.Options {
			return o.WithMemTableSize(8 << 20).WithBlockCacheSize(8 << 20).WithIndexCacheSize(4 << 20).
				WithNumCompactors(2).WithValueLogFileSize(16 << 20)
		},
	}
}

// newTestStore opens a fresh store in a temporary directory, closed at the end of the test.
func newTestStore(t testing.TB) *Store {
	t.Helper()
	s, err := Open(context.Background(), t.TempDir(), testOptions())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func mustCreateTree(t testing.TB, as storage.AdminStorage, tmpl *trillian.Tree) *trillian.Tree {
	t.Helper()
	tree, err := storage.CreateTree(context.Background(), as, tmpl)
	if err != nil {
		t.Fatalf("CreateTree: %v", err)
	}
	return tree
}

func mustStoreRoot(t testing.TB, ls storage.LogStorage, tree *trillian.Tree, r *types.LogRootV1) {
	t.Helper()
	b, err := r.MarshalBinary()
	if err != nil {
		t.Fatalf("MarshalBinary: %v", err)
	}
	if err := ls.ReadWriteTransaction(context.Background(), tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		return tx.StoreSignedLogRoot(ctx, &trillian.SignedLogRoot{LogRoot: b})
	}); err != nil {
		t.Fatalf("StoreSignedLogRoot: %v", err)
	}
}

func runTX(t testing.TB, ls storage.LogStorage, tree *trillian.Tree, f storage.LogTXFunc) {
	t.Helper()
	if err := ls.ReadWriteTransaction(context.Background(), tree, f); err != nil {
		t.Fatalf("ReadWriteTransaction: %v", err)
	}
}

type badgerTxn = badger.Txn

func badgerIteratorOptions(prefix []byte) badger.IteratorOptions {
	return badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 64}
}

func TestMain(m *testing.M) {
	log.InitMetrics(nil) // Trillian's sequencer needs its metrics before IntegrateBatch
	os.Exit(m.Run())
}
