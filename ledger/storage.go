package ledger

import (
	"bytes"
	"context"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/monitoring"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/storage/memory"
)

// Storage is where the log lives: Trillian's log and admin storage, and the ledger's own state
// (its tree ID and checkpoint history) beside them. Make one with [NewMemoryStorage] or
// [NewBadgerStorage]; the zero value is not usable.
//
// Log and Admin may be wrapped (for instance to observe writes) before [Open]; the ledger's
// own state stays where the constructor put it.
type Storage struct {
	Log   storage.LogStorage
	Admin storage.AdminStorage
	state stateStore
}

// NewMemoryStorage returns a storage that lives in memory only (Trillian's storage/memory):
// for tests and for trying things out. Nothing survives the process.
func NewMemoryStorage() Storage {
	ts := memory.NewTreeStorage()
	return Storage{
		Log:   memory.NewLogStorage(ts, monitoring.InertMetricFactory{}),
		Admin: memory.NewAdminStorage(ts),
		state: &memState{},
	}
}

// BadgerBackend is what [NewBadgerStorage] needs of the Badger implementation of Trillian's
// storage (package ledger/badgerstore's *Store).
type BadgerBackend interface {
	LogStorage() storage.LogStorage
	AdminStorage() storage.AdminStorage
	DB() *badger.DB
}

// NewBadgerStorage returns a storage over a Badger-backed Trillian store. The ledger keeps its
// tree ID and its checkpoints in the same database, under a key prefix of its own. The caller
// keeps ownership of b and closes it after the [Log].
func NewBadgerStorage(b BadgerBackend) Storage {
	return Storage{Log: b.LogStorage(), Admin: b.AdminStorage(), state: badgerState{db: b.DB()}}
}

// sequenced is one leaf as the sequencer integrated it.
type sequenced struct {
	hash  []byte
	index uint64
}

// captureStorage is the LogStorage handed to one sequencer pass: it records the leaves the
// pass sequenced and the root it stored, as committed (the record is reset whenever the
// storage retries the transaction function).
type captureStorage struct {
	storage.LogStorage
	leaves []sequenced
	root   *trillian.SignedLogRoot
}

func (c *captureStorage) ReadWriteTransaction(ctx context.Context, tree *trillian.Tree, f storage.LogTXFunc) error {
	return c.LogStorage.ReadWriteTransaction(ctx, tree, func(ctx context.Context, tx storage.LogTreeTX) error {
		c.leaves, c.root = nil, nil
		return f(ctx, &captureTX{LogTreeTX: tx, c: c})
	})
}

type captureTX struct {
	storage.LogTreeTX
	c *captureStorage
}

func (t *captureTX) UpdateSequencedLeaves(ctx context.Context, leaves []*trillian.LogLeaf) error {
	if err := t.LogTreeTX.UpdateSequencedLeaves(ctx, leaves); err != nil {
		return err
	}
	for _, l := range leaves {
		t.c.leaves = append(t.c.leaves, sequenced{hash: bytes.Clone(l.MerkleLeafHash), index: uint64(l.LeafIndex)})
	}
	return nil
}

func (t *captureTX) StoreSignedLogRoot(ctx context.Context, root *trillian.SignedLogRoot) error {
	if err := t.LogTreeTX.StoreSignedLogRoot(ctx, root); err != nil {
		return err
	}
	t.c.root = root
	return nil
}
