package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/storage"
	"github.com/google/trillian/storage/cache"
	"github.com/google/trillian/storage/storagepb"
	"github.com/google/trillian/storage/tree"
	"github.com/google/trillian/types"
	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// hashSize is the size of identity and Merkle leaf hashes (RFC 6962 with SHA-256, the only
// hasher of Trillian v1.8).
const hashSize = 32

// maxRangeLeaves caps one GetLeavesByRange; the interface allows returning a shorter prefix.
const maxRangeLeaves = 1 << 16

// logStorage implements storage.LogStorage.
type logStorage struct {
	s *Store
}

func (l *logStorage) CheckDatabaseAccessible(ctx context.Context) error {
	return l.s.checkAccessible(ctx)
}

// GetActiveLogIDs returns the LOG and PREORDERED_LOG trees that are ACTIVE or DRAINING and
// not soft deleted.
func (l *logStorage) GetActiveLogIDs(ctx context.Context) ([]int64, error) {
	leave, err := l.s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	ids := []int64{}
	err = l.s.db.View(func(txn *badger.Txn) error {
		trees, err := listTrees(l.s, txn, false)
		if err != nil {
			return err
		}
		for _, t := range trees {
			switch t.TreeType {
			case trillian.TreeType_LOG, trillian.TreeType_PREORDERED_LOG:
			default:
				continue
			}
			switch t.TreeState {
			case trillian.TreeState_ACTIVE, trillian.TreeState_DRAINING:
				ids = append(ids, t.TreeId)
			}
		}
		return nil
	})
	return ids, err
}

// SnapshotForTree returns a read-only transaction over a consistent snapshot. For a tree
// without a stored root it returns the transaction together with storage.ErrTreeNeedsInit;
// the caller must close it.
func (l *logStorage) SnapshotForTree(ctx context.Context, tree *trillian.Tree) (storage.ReadOnlyLogTreeTX, error) {
	leave, err := l.s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	tx, err := l.s.begin(ctx, tree, false)
	if err != nil && err != storage.ErrTreeNeedsInit {
		return nil, err
	}
	return tx, err
}

// ReadWriteTransaction runs f in a read-write transaction and commits it, durably, when f
// returns nil. f is called even when the tree has no root yet (LatestSignedLogRoot then
// returns storage.ErrTreeNeedsInit). On a Badger conflict the whole transaction, f
// included, is run again.
func (l *logStorage) ReadWriteTransaction(ctx context.Context, tree *trillian.Tree, f storage.LogTXFunc) error {
	leave, err := l.s.enter()
	if err != nil {
		return err
	}
	defer leave()
	for attempt := 0; attempt < l.s.opts.MaxRetries; attempt++ {
		var tx *logTX
		tx, err = l.s.begin(ctx, tree, true)
		if err != nil && err != storage.ErrTreeNeedsInit {
			return err
		}
		err = f(ctx, tx)
		if err == nil {
			err = tx.Commit(ctx)
		}
		tx.Close()
		if !errors.Is(err, badger.ErrConflict) {
			return err
		}
		backoff(attempt)
	}
	return fmt.Errorf("badgerstore: log transaction on tree %d still conflicting after %d attempts: %w", tree.GetTreeId(), l.s.opts.MaxRetries, err)
}

// logTX implements storage.LogTreeTX (and, read-only, storage.ReadOnlyLogTreeTX). A Badger
// transaction is not safe for concurrent use, so every method holds mu.
type logTX struct {
	mu       sync.Mutex
	s        *Store
	txn      *badger.Txn
	rw       bool
	closed   bool
	treeID   int64
	treeType trillian.TreeType

	slr      *trillian.SignedLogRoot // latest root when the transaction began; nil if none
	root     types.LogRootV1
	headNano uint64 // timestamp of the newest root stored or seen in this transaction
	hasHead  bool

	cache *cache.SubtreeCache

	// Queue bookkeeping for the low-water mark (see queue.go).
	floor    uint64
	qStart   uint64            // the low-water mark this transaction started from
	dequeued map[string]uint64 // identity hash → queue sequence number
	qSeen    []uint64          // sequence numbers returned by DequeueLeaves, ascending
	qStop    uint64            // first visible entry not returned; qEnd if none
	qResume  uint64            // where the next DequeueLeaves call continues
	qDeleted map[uint64]bool
	qScanned bool // DequeueLeaves ran on a LOG tree
}

const qEnd = ^uint64(0)

func (s *Store) begin(ctx context.Context, tr *trillian.Tree, rw bool) (*logTX, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	tx := &logTX{
		s:        s,
		rw:       rw,
		treeID:   tr.GetTreeId(),
		treeType: tr.GetTreeType(),
		cache:    cache.NewLogSubtreeCache(rfc6962.DefaultHasher),
		qStop:    qEnd,
	}
	if rw {
		// The floor must be taken before the snapshot (see queue.go).
		floor, lwm, err := s.queueFloor(tx.treeID)
		if err != nil {
			return nil, err
		}
		tx.floor, tx.qStart, tx.qResume = floor, lwm, lwm
		tx.dequeued = make(map[string]uint64)
		tx.qDeleted = make(map[uint64]bool)
	}
	tx.txn = s.db.NewTransaction(rw)
	if err := tx.loadHead(); err != nil {
		if err == storage.ErrTreeNeedsInit {
			return tx, err
		}
		tx.txn.Discard()
		return nil, err
	}
	return tx, nil
}

func (t *logTX) loadHead() error {
	item, err := t.txn.Get(t.s.k.head(t.treeID))
	if err == badger.ErrKeyNotFound {
		return storage.ErrTreeNeedsInit
	}
	if err != nil {
		return fmt.Errorf("badgerstore: reading the latest root of tree %d: %w", t.treeID, err)
	}
	b, err := item.ValueCopy(nil)
	if err != nil {
		return fmt.Errorf("badgerstore: reading the latest root of tree %d: %w", t.treeID, err)
	}
	if err := t.root.UnmarshalBinary(b); err != nil {
		return fmt.Errorf("badgerstore: decoding the latest root of tree %d: %w", t.treeID, err)
	}
	t.slr = &trillian.SignedLogRoot{LogRoot: b}
	t.headNano, t.hasHead = t.root.TimestampNanos, true
	return nil
}

func (t *logTX) usable() error {
	if t.closed {
		return errors.New("badgerstore: log transaction already committed or closed")
	}
	return nil
}

func (t *logTX) writable() error {
	if err := t.usable(); err != nil {
		return err
	}
	if !t.rw {
		return errors.New("badgerstore: write in a read-only log transaction")
	}
	return nil
}

// Commit writes the tiles changed in this transaction and commits it durably. For a
// snapshot it only releases it. A conflict is returned wrapping badger.ErrConflict.
func (t *logTX) Commit(ctx context.Context) error {
	end, err := t.begin((*logTX).usable)
	if err != nil {
		return err
	}
	defer end()
	t.closed = true
	defer t.txn.Discard()
	if !t.rw {
		return nil
	}
	tiles, err := t.cache.UpdatedTiles()
	if err != nil {
		return fmt.Errorf("badgerstore: collecting updated tiles of tree %d: %w", t.treeID, err)
	}
	for _, tile := range tiles {
		b, err := proto.Marshal(tile)
		if err != nil {
			return fmt.Errorf("badgerstore: encoding tile %x of tree %d: %w", tile.Prefix, t.treeID, err)
		}
		if err := t.set(t.s.k.tile(t.treeID, tile.Prefix), b); err != nil {
			return err
		}
	}
	if err := t.txn.Commit(); err != nil {
		return fmt.Errorf("badgerstore: committing a transaction on tree %d: %w", t.treeID, err)
	}
	if mark, ok := t.newLowWater(); ok {
		t.s.advanceLowWater(t.treeID, mark)
	}
	return nil
}

// newLowWater computes the mark justified by this committed transaction (see queue.go).
func (t *logTX) newLowWater() (uint64, bool) {
	if !t.qScanned {
		return 0, false
	}
	mark := min(t.floor, t.qStop)
	for _, seq := range t.qSeen {
		if !t.qDeleted[seq] {
			mark = min(mark, seq)
			break
		}
	}
	return mark, mark > t.qStart
}

// Close rolls back the transaction unless it was committed. It may be called repeatedly.
func (t *logTX) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return nil
	}
	t.closed = true
	if !t.s.closed.Load() {
		t.txn.Discard()
	}
	return nil
}

// set writes one entry, turning Badger's transaction-size limit into a clear error.
func (t *logTX) set(key, value []byte) error {
	return setChecked(t.s, t.txn, key, value)
}

func setChecked(s *Store, txn *badger.Txn, key, value []byte) error {
	if err := txn.Set(key, value); err != nil {
		if errors.Is(err, badger.ErrTxnTooBig) {
			return status.Errorf(codes.ResourceExhausted,
				"badgerstore: transaction exceeds the storage limit of %d bytes / %d entries; use smaller batches: %v",
				s.db.MaxBatchSize(), s.db.MaxBatchCount(), err)
		}
		return fmt.Errorf("badgerstore: writing key %x: %w", key, err)
	}
	return nil
}

func (t *logTX) getSubtrees(ids [][]byte) ([]*storagepb.SubtreeProto, error) {
	ret := make([]*storagepb.SubtreeProto, 0, len(ids))
	for _, id := range ids {
		item, err := t.txn.Get(t.s.k.tile(t.treeID, id))
		if err == badger.ErrKeyNotFound {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("badgerstore: reading tile %x of tree %d: %w", id, t.treeID, err)
		}
		st := &storagepb.SubtreeProto{}
		if err := item.Value(func(v []byte) error { return proto.Unmarshal(v, st) }); err != nil {
			return nil, fmt.Errorf("badgerstore: decoding tile %x of tree %d: %w", id, t.treeID, err)
		}
		if st.Prefix == nil {
			st.Prefix = []byte{}
		}
		ret = append(ret, st)
	}
	return ret, nil
}

func (t *logTX) GetMerkleNodes(ctx context.Context, ids []compact.NodeID) ([]tree.Node, error) {
	end, err := t.begin((*logTX).usable)
	if err != nil {
		return nil, err
	}
	defer end()
	return t.cache.GetNodes(ids, t.getSubtrees)
}

func (t *logTX) SetMerkleNodes(ctx context.Context, nodes []tree.Node) error {
	end, err := t.begin((*logTX).writable)
	if err != nil {
		return err
	}
	defer end()
	return t.cache.SetNodes(nodes, t.getSubtrees)
}

func (t *logTX) LatestSignedLogRoot(ctx context.Context) (*trillian.SignedLogRoot, error) {
	end, err := t.begin((*logTX).usable)
	if err != nil {
		return nil, err
	}
	defer end()
	if t.slr == nil {
		return nil, storage.ErrTreeNeedsInit
	}
	return t.slr, nil
}

// StoreSignedLogRoot appends root to the tree's root history and makes it the latest root if
// its timestamp is the greatest. Storing a second root with the same timestamp fails with
// codes.AlreadyExists.
func (t *logTX) StoreSignedLogRoot(ctx context.Context, root *trillian.SignedLogRoot) error {
	end, err := t.begin((*logTX).writable)
	if err != nil {
		return err
	}
	defer end()
	var lr types.LogRootV1
	if err := lr.UnmarshalBinary(root.GetLogRoot()); err != nil {
		return status.Errorf(codes.InvalidArgument, "badgerstore: malformed log root for tree %d: %v", t.treeID, err)
	}
	key := t.s.k.root(t.treeID, lr.TimestampNanos)
	if _, err := t.txn.Get(key); err == nil {
		return status.Errorf(codes.AlreadyExists, "badgerstore: tree %d already has a root with timestamp %d", t.treeID, lr.TimestampNanos)
	} else if err != badger.ErrKeyNotFound {
		return fmt.Errorf("badgerstore: reading root history of tree %d: %w", t.treeID, err)
	}
	if err := t.set(key, root.LogRoot); err != nil {
		return err
	}
	if !t.hasHead || lr.TimestampNanos > t.headNano {
		if err := t.set(t.s.k.head(t.treeID), root.LogRoot); err != nil {
			return err
		}
		t.headNano, t.hasHead = lr.TimestampNanos, true
	}
	return nil
}

// GetLeavesByRange returns the contiguous run of stored leaves starting at start, up to count
// (capped at 65536). For a LOG tree the range is clipped to the tree size; a start at or past
// it is codes.OutOfRange. A leaf missing inside the tree size is an error.
func (t *logTX) GetLeavesByRange(ctx context.Context, start, count int64) ([]*trillian.LogLeaf, error) {
	end, err := t.begin((*logTX).usable)
	if err != nil {
		return nil, err
	}
	defer end()
	return t.getLeavesByRange(start, count)
}

func (t *logTX) getLeavesByRange(start, count int64) ([]*trillian.LogLeaf, error) {
	if count <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "invalid count %d, want > 0", count)
	}
	if start < 0 {
		return nil, status.Errorf(codes.InvalidArgument, "invalid start %d, want >= 0", start)
	}
	count = min(count, maxRangeLeaves)
	treeSize := int64(t.root.TreeSize)
	if t.treeType == trillian.TreeType_LOG {
		if treeSize <= 0 {
			return nil, status.Errorf(codes.OutOfRange, "empty tree")
		}
		if start >= treeSize {
			return nil, status.Errorf(codes.OutOfRange, "invalid start %d, want < TreeSize(%d)", start, treeSize)
		}
		count = min(count, treeSize-start)
	}
	if start > (1<<63-1)-count {
		count = (1<<63 - 1) - start
	}
	ret := make([]*trillian.LogLeaf, 0, min(count, 1024))
	for idx := start; idx < start+count; idx++ {
		leaf, err := t.leafAt(idx)
		if err != nil {
			return nil, err
		}
		if leaf == nil {
			if idx < treeSize {
				return nil, status.Errorf(codes.DataLoss, "badgerstore: tree %d has no leaf at index %d inside its size %d", t.treeID, idx, treeSize)
			}
			break
		}
		ret = append(ret, leaf)
	}
	return ret, nil
}

// leafAt returns the sequenced leaf at idx with its data, or nil if there is none.
func (t *logTX) leafAt(idx int64) (*trillian.LogLeaf, error) {
	item, err := t.txn.Get(t.s.k.seq(t.treeID, idx))
	if err == badger.ErrKeyNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading leaf %d of tree %d: %w", idx, t.treeID, err)
	}
	var sr seqRecord
	if err := item.Value(func(v []byte) (err error) { sr, err = unmarshalSeqRecord(v); return err }); err != nil {
		return nil, fmt.Errorf("badgerstore: leaf %d of tree %d: %w", idx, t.treeID, err)
	}
	leaf, err := t.leafData(sr.identityHash)
	if err != nil {
		return nil, err
	}
	if leaf == nil {
		return nil, status.Errorf(codes.DataLoss, "badgerstore: tree %d: leaf %d refers to missing leaf data %x", t.treeID, idx, sr.identityHash)
	}
	leaf.LeafIndex = idx
	leaf.MerkleLeafHash = sr.merkleHash
	leaf.IntegrateTimestamp = timestamppb.New(time.Unix(0, sr.integrateNanos))
	return leaf, nil
}

// leafData returns the data stored for an identity hash (LeafIndex -1, no integrate time), or
// nil if there is none.
func (t *logTX) leafData(identityHash []byte) (*trillian.LogLeaf, error) {
	return readLeafData(t.s, t.txn, t.treeID, identityHash)
}

func readLeafData(s *Store, txn *badger.Txn, treeID int64, identityHash []byte) (*trillian.LogLeaf, error) {
	item, err := txn.Get(s.k.leaf(treeID, identityHash))
	if err == badger.ErrKeyNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading leaf data %x of tree %d: %w", identityHash, treeID, err)
	}
	var lr leafRecord
	if err := item.Value(func(v []byte) (err error) { lr, err = unmarshalLeafRecord(v); return err }); err != nil {
		return nil, fmt.Errorf("badgerstore: leaf data %x of tree %d: %w", identityHash, treeID, err)
	}
	return &trillian.LogLeaf{
		LeafIdentityHash: append([]byte(nil), identityHash...),
		MerkleLeafHash:   lr.merkleHash,
		LeafValue:        lr.value,
		ExtraData:        lr.extra,
		LeafIndex:        -1,
		QueueTimestamp:   timestamppb.New(time.Unix(0, lr.queueNanos)),
	}, nil
}

// GetLeavesByHash returns every sequenced leaf whose Merkle leaf hash is one of leafHashes,
// in request order or, if orderBySequence, by index.
func (t *logTX) GetLeavesByHash(ctx context.Context, leafHashes [][]byte, orderBySequence bool) ([]*trillian.LogLeaf, error) {
	end, err := t.begin((*logTX).usable)
	if err != nil {
		return nil, err
	}
	defer end()
	var ret []*trillian.LogLeaf
	seen := make(map[string]bool, len(leafHashes))
	for _, h := range leafHashes {
		if seen[string(h)] {
			continue
		}
		seen[string(h)] = true
		idxs, err := t.indexesOf(h)
		if err != nil {
			return nil, err
		}
		for _, idx := range idxs {
			leaf, err := t.leafAt(idx)
			if err != nil {
				return nil, err
			}
			if leaf == nil {
				return nil, status.Errorf(codes.DataLoss, "badgerstore: tree %d: Merkle hash %x indexes missing leaf %d", t.treeID, h, idx)
			}
			ret = append(ret, leaf)
		}
	}
	if orderBySequence {
		sort.SliceStable(ret, func(i, j int) bool { return ret[i].LeafIndex < ret[j].LeafIndex })
	}
	return ret, nil
}

func (t *logTX) indexesOf(merkleHash []byte) ([]int64, error) {
	prefix := t.s.k.merklePrefix(t.treeID, merkleHash)
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	var idxs []int64
	for it.Rewind(); it.Valid(); it.Next() {
		key := it.Item().Key()
		if len(key) != len(prefix)+8 {
			continue // a longer Merkle hash that starts with this one
		}
		v, err := trailingUint64(key, len(prefix))
		if err != nil {
			return nil, err
		}
		idxs = append(idxs, int64(v))
	}
	return idxs, nil
}

// begin locks the transaction, checks its state with check and registers a call in progress
// on the store (see Store.lockEnter).
func (t *logTX) begin(check func(*logTX) error) (end func(), err error) {
	return t.s.lockEnter(&t.mu, func() error { return check(t) })
}
