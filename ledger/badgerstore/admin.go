package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/storage"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// adminStorage implements storage.AdminStorage. Trees are stored whole as trillian.Tree
// protos, with exact create/update/delete times.
type adminStorage struct {
	s *Store
}

func (a *adminStorage) CheckDatabaseAccessible(ctx context.Context) error {
	return a.s.checkAccessible(ctx)
}

func (a *adminStorage) Snapshot(ctx context.Context) (storage.ReadOnlyAdminTX, error) {
	leave, err := a.s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &adminTX{s: a.s, txn: a.s.db.NewTransaction(false)}, nil
}

// ReadWriteTransaction runs f in a read-write transaction and commits it if f returns nil.
// On a Badger conflict at commit, f is run again in a fresh transaction.
func (a *adminStorage) ReadWriteTransaction(ctx context.Context, f storage.AdminTXFunc) error {
	leave, err := a.s.enter()
	if err != nil {
		return err
	}
	defer leave()
	var dropped []int64
	err = a.s.update(ctx, "admin transaction", func(txn *badger.Txn) error {
		tx := &adminTX{s: a.s, txn: txn, rw: true}
		defer tx.markClosed()
		if err := f(ctx, tx); err != nil {
			return err
		}
		dropped = tx.hardDeleted
		return nil
	})
	if err != nil {
		return err
	}
	// The tree records are gone (atomically, with the rest of the transaction); now drop the
	// trees' data, which may be too large for one transaction.
	for _, id := range dropped {
		a.s.forgetTree(id)
		if err := a.s.dropTreeData(id); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) checkAccessible(ctx context.Context) error {
	leave, err := s.enter()
	if err != nil {
		return err
	}
	defer leave()
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(s.k.counter())
		if err == badger.ErrKeyNotFound {
			return nil
		}
		return err
	})
}

func (s *Store) dropTreeData(treeID int64) error {
	prefixes := make([][]byte, 0, len(dataTags))
	for _, tag := range dataTags {
		prefixes = append(prefixes, s.k.treePrefix(tag, treeID))
	}
	if err := s.db.DropPrefix(prefixes...); err != nil {
		return fmt.Errorf("badgerstore: dropping the data of hard-deleted tree %d: %w", treeID, err)
	}
	return nil
}

// adminTX is a read-only (snapshot) or read-write admin transaction. Its methods may be called
// from several goroutines; they are serialised.
type adminTX struct {
	mu          sync.Mutex
	s           *Store
	txn         *badger.Txn
	rw          bool
	closed      bool
	hardDeleted []int64
}

func (t *adminTX) markClosed() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
}

func (t *adminTX) Commit() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if !t.s.closed.Load() {
		t.txn.Discard() // a snapshot has nothing to commit
	}
	return nil
}

func (t *adminTX) Close() error {
	return t.Commit()
}

func (t *adminTX) check() error {
	if t.closed {
		return errors.New("badgerstore: admin transaction already closed")
	}
	return nil
}

func (t *adminTX) GetTree(ctx context.Context, treeID int64) (*trillian.Tree, error) {
	end, err := t.begin((*adminTX).check)
	if err != nil {
		return nil, err
	}
	defer end()
	return t.getTree(treeID)
}

func (t *adminTX) getTree(treeID int64) (*trillian.Tree, error) {
	item, err := t.txn.Get(t.s.k.tree(treeID))
	if err == badger.ErrKeyNotFound {
		return nil, status.Errorf(codes.NotFound, "tree %d not found", treeID)
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading tree %d: %w", treeID, err)
	}
	tree := &trillian.Tree{}
	if err := item.Value(func(v []byte) error { return proto.Unmarshal(v, tree) }); err != nil {
		return nil, fmt.Errorf("badgerstore: decoding tree %d: %w", treeID, err)
	}
	return tree, nil
}

func (t *adminTX) ListTrees(ctx context.Context, includeDeleted bool) ([]*trillian.Tree, error) {
	end, err := t.begin((*adminTX).check)
	if err != nil {
		return nil, err
	}
	defer end()
	return listTrees(t.s, t.txn, includeDeleted)
}

func listTrees(s *Store, txn *badger.Txn, includeDeleted bool) ([]*trillian.Tree, error) {
	prefix := s.k.tagPrefix(tagTree)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: 16})
	defer it.Close()
	trees := []*trillian.Tree{}
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		tree := &trillian.Tree{}
		if err := item.Value(func(v []byte) error { return proto.Unmarshal(v, tree) }); err != nil {
			return nil, fmt.Errorf("badgerstore: decoding tree at key %x: %w", item.Key(), err)
		}
		if tree.Deleted && !includeDeleted {
			continue
		}
		trees = append(trees, tree)
	}
	return trees, nil
}

func (t *adminTX) putTree(tree *trillian.Tree) error {
	b, err := proto.Marshal(tree)
	if err != nil {
		return fmt.Errorf("badgerstore: encoding tree %d: %w", tree.TreeId, err)
	}
	return t.txn.Set(t.s.k.tree(tree.TreeId), b)
}

func (t *adminTX) writable() error {
	if err := t.check(); err != nil {
		return err
	}
	if !t.rw {
		return errors.New("badgerstore: write in a read-only admin transaction")
	}
	return nil
}

func (t *adminTX) CreateTree(ctx context.Context, tree *trillian.Tree) (*trillian.Tree, error) {
	end, err := t.begin((*adminTX).writable)
	if err != nil {
		return nil, err
	}
	defer end()
	if err := storage.ValidateTreeForCreation(ctx, tree); err != nil {
		return nil, err
	}
	if err := tree.GetMaxRootDuration().CheckValid(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid max_root_duration: %v", err)
	}
	id, err := storage.NewTreeID()
	if err != nil {
		return nil, err
	}
	now := timestamppb.New(time.Now())
	newTree := proto.Clone(tree).(*trillian.Tree)
	newTree.TreeId = id
	newTree.CreateTime = now
	newTree.UpdateTime = proto.Clone(now).(*timestamppb.Timestamp)
	newTree.Deleted = false
	newTree.DeleteTime = nil
	if _, err := t.txn.Get(t.s.k.tree(id)); err == nil {
		return nil, status.Errorf(codes.AlreadyExists, "tree %d already exists", id)
	} else if err != badger.ErrKeyNotFound {
		return nil, err
	}
	if err := t.putTree(newTree); err != nil {
		return nil, err
	}
	return newTree, nil
}

func (t *adminTX) UpdateTree(ctx context.Context, treeID int64, updateFunc func(*trillian.Tree)) (*trillian.Tree, error) {
	end, err := t.begin((*adminTX).writable)
	if err != nil {
		return nil, err
	}
	defer end()
	tree, err := t.getTree(treeID)
	if err != nil {
		return nil, err
	}
	before := proto.Clone(tree).(*trillian.Tree)
	updateFunc(tree)
	if err := storage.ValidateTreeForUpdate(ctx, before, tree); err != nil {
		return nil, err
	}
	if err := tree.GetMaxRootDuration().CheckValid(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "invalid max_root_duration: %v", err)
	}
	tree.UpdateTime = timestamppb.New(time.Now())
	if err := t.putTree(tree); err != nil {
		return nil, err
	}
	return tree, nil
}

func (t *adminTX) SoftDeleteTree(ctx context.Context, treeID int64) (*trillian.Tree, error) {
	return t.setDeleted(treeID, true)
}

func (t *adminTX) UndeleteTree(ctx context.Context, treeID int64) (*trillian.Tree, error) {
	return t.setDeleted(treeID, false)
}

func (t *adminTX) setDeleted(treeID int64, deleted bool) (*trillian.Tree, error) {
	end, err := t.begin((*adminTX).writable)
	if err != nil {
		return nil, err
	}
	defer end()
	tree, err := t.getTree(treeID)
	if err != nil {
		return nil, err
	}
	switch {
	case deleted && tree.Deleted:
		return nil, status.Errorf(codes.FailedPrecondition, "tree %d already soft deleted", treeID)
	case !deleted && !tree.Deleted:
		return nil, status.Errorf(codes.FailedPrecondition, "tree %d is not soft deleted", treeID)
	}
	tree.Deleted = deleted
	tree.DeleteTime = nil
	if deleted {
		tree.DeleteTime = timestamppb.New(time.Now())
	}
	if err := t.putTree(tree); err != nil {
		return nil, err
	}
	return tree, nil
}

// HardDeleteTree removes the tree record in this transaction; the tree's leaves, tiles and
// roots are dropped after the transaction commits.
func (t *adminTX) HardDeleteTree(ctx context.Context, treeID int64) error {
	end, err := t.begin((*adminTX).writable)
	if err != nil {
		return err
	}
	defer end()
	tree, err := t.getTree(treeID)
	if err != nil {
		return err
	}
	if !tree.Deleted {
		return status.Errorf(codes.FailedPrecondition, "tree %d is not soft deleted", treeID)
	}
	if err := t.txn.Delete(t.s.k.tree(treeID)); err != nil {
		return err
	}
	t.hardDeleted = append(t.hardDeleted, treeID)
	return nil
}

// begin locks the transaction, checks its state with check and registers a call in progress
// on the store (see Store.lockEnter).
func (t *adminTX) begin(check func(*adminTX) error) (end func(), err error) {
	return t.s.lockEnter(&t.mu, func() error { return check(t) })
}
