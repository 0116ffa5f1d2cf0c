package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/google/trillian"
	"github.com/google/trillian/storage"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// QueueLeaves stores the leaves and queues them for sequencing, in one durable transaction,
// in the order given. A leaf whose identity hash is already stored (earlier, or earlier in
// the same batch) is not queued again: its result has codes.AlreadyExists and the stored
// leaf. A batch too large for one Badger transaction fails with codes.ResourceExhausted and
// writes nothing. Each queued leaf's QueueTimestamp is set to queueTimestamp.
func (l *logStorage) QueueLeaves(ctx context.Context, tree *trillian.Tree, leaves []*trillian.LogLeaf, queueTimestamp time.Time) ([]*trillian.QueuedLogLeaf, error) {
	s := l.s
	leave, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	qts := timestamppb.New(queueTimestamp)
	if err := qts.CheckValid(); err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "badgerstore: invalid queue timestamp: %v", err)
	}
	for i, leaf := range leaves {
		if len(leaf.GetLeafIdentityHash()) != hashSize {
			return nil, status.Errorf(codes.InvalidArgument, "badgerstore: leaves[%d] has a %d-byte identity hash, want %d", i, len(leaf.GetLeafIdentityHash()), hashSize)
		}
		if len(leaf.GetMerkleLeafHash()) != hashSize {
			return nil, status.Errorf(codes.InvalidArgument, "badgerstore: leaves[%d] has a %d-byte Merkle leaf hash, want %d", i, len(leaf.GetMerkleLeafHash()), hashSize)
		}
	}
	treeID := tree.GetTreeId()
	qNanos := queueTimestamp.UnixNano()
	var ret []*trillian.QueuedLogLeaf
	s.leafMu.Lock()
	defer s.leafMu.Unlock()
	known, err := s.ids.tree(s, treeID)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if attempt == s.opts.MaxRetries {
			return nil, fmt.Errorf("badgerstore: QueueLeaves on tree %d still conflicting after %d attempts: %w", treeID, attempt, err)
		}
		var start uint64
		if start, err = s.allocQueueSeqs(len(leaves)); err != nil {
			return nil, err
		}
		// The numbers stay in flight, holding back the low-water mark, until the transaction
		// has committed or failed.
		txn := s.db.NewTransaction(true)
		ret, err = queueLeavesTxn(s, txn, treeID, leaves, qNanos, start, known)
		if err == nil {
			err = txn.Commit()
		}
		txn.Discard()
		s.releaseQueueSeqs(start)
		if err == nil {
			break
		}
		if !errors.Is(err, badger.ErrConflict) {
			return nil, err
		}
		backoff(attempt)
	}
	for _, r := range ret {
		if r.Status == nil {
			r.Leaf.QueueTimestamp = qts
		}
	}
	return ret, nil
}

// queueLeavesTxn writes the leaves not yet stored, and their queue entries numbered from
// start, into txn, and adds their identity hashes to known. Only the identity hashes known may
// contain are looked up; the caller holds s.leafMu until txn is committed or discarded.
func queueLeavesTxn(s *Store, txn *badger.Txn, treeID int64, leaves []*trillian.LogLeaf, qNanos int64, start uint64, known *bloomChain) ([]*trillian.QueuedLogLeaf, error) {
	ret := make([]*trillian.QueuedLogLeaf, len(leaves))
	firstInBatch := make(map[string]int, len(leaves))
	var maybe []int // indexes of the first occurrence of each identity hash that may be stored
	for i, leaf := range leaves {
		id := leaf.LeafIdentityHash
		if _, ok := firstInBatch[string(id)]; ok {
			continue
		}
		firstInBatch[string(id)] = i
		if known.mayContain(id) {
			maybe = append(maybe, i)
		}
	}
	existing, err := lookupLeaves(s, txn, treeID, leaves, maybe)
	if err != nil {
		return nil, err
	}
	for i, leaf := range leaves {
		id := leaf.LeafIdentityHash
		if j := firstInBatch[string(id)]; j != i {
			ret[i] = alreadyExists(ret[j].Leaf)
			continue
		}
		if e := existing[i]; e != nil {
			ret[i] = alreadyExists(e)
			continue
		}
		lr := leafRecord{queueNanos: qNanos, merkleHash: leaf.MerkleLeafHash, value: leaf.LeafValue, extra: leaf.ExtraData}
		if err := setChecked(s, txn, s.k.leaf(treeID, id), lr.marshal()); err != nil {
			return nil, err
		}
		qr := queueRecord{queueNanos: qNanos, identityHash: id, merkleHash: leaf.MerkleLeafHash}
		if err := setChecked(s, txn, s.k.queue(treeID, start+uint64(i)), qr.marshal()); err != nil {
			return nil, err
		}
		known.add(id)
		ret[i] = &trillian.QueuedLogLeaf{Leaf: leaf}
	}
	return ret, nil
}

// parallelLookupMin is the number of lookups from which lookupLeaves splits its reads across
// goroutines: a batch of leaves already stored (a caller appending again after a crash) costs
// about 5 µs per leaf.
const parallelLookupMin = 16

// lookupLeaves reads the stored leaf, if any, of leaves[i] for each i in idx, and returns them
// by index. It must run before txn has pending writes: Badger's Txn.Get reads the pending
// writes without a lock (and records the read keys under one, for conflict detection).
func lookupLeaves(s *Store, txn *badger.Txn, treeID int64, leaves []*trillian.LogLeaf, idx []int) (map[int]*trillian.LogLeaf, error) {
	found := make(map[int]*trillian.LogLeaf)
	workers := min(runtime.GOMAXPROCS(0), 4, len(idx)/(parallelLookupMin/2))
	if workers < 2 || len(idx) < parallelLookupMin {
		for _, i := range idx {
			e, err := readLeafData(s, txn, treeID, leaves[i].LeafIdentityHash)
			if err != nil {
				return nil, err
			}
			if e != nil {
				found[i] = e
			}
		}
		return found, nil
	}
	results := make([]*trillian.LogLeaf, len(idx))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for k := w; k < len(idx); k += workers {
				e, err := readLeafData(s, txn, treeID, leaves[idx[k]].LeafIdentityHash)
				if err != nil {
					errs[w] = err
					return
				}
				results[k] = e
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	for k, e := range results {
		if e != nil {
			found[idx[k]] = e
		}
	}
	return found, nil
}

func alreadyExists(leaf *trillian.LogLeaf) *trillian.QueuedLogLeaf {
	return &trillian.QueuedLogLeaf{
		Leaf:   leaf,
		Status: status.Newf(codes.AlreadyExists, "leaf already exists: %x", leaf.GetLeafIdentityHash()).Proto(),
	}
}

// AddSequencedLeaves stores leaves of a PREORDERED_LOG tree at their LeafIndex, in one durable
// transaction. A leaf whose identity hash or index is already taken is not stored and gets
// codes.FailedPrecondition; the others are stored with codes.OK.
func (l *logStorage) AddSequencedLeaves(ctx context.Context, tree *trillian.Tree, leaves []*trillian.LogLeaf, timestamp time.Time) ([]*trillian.QueuedLogLeaf, error) {
	s := l.s
	leave, err := s.enter()
	if err != nil {
		return nil, err
	}
	defer leave()
	for i, leaf := range leaves {
		if got := len(leaf.GetLeafIdentityHash()); got != hashSize {
			return nil, status.Errorf(codes.FailedPrecondition, "badgerstore: leaves[%d] has incorrect identity hash size %d, want %d", i, got, hashSize)
		}
		if got := len(leaf.GetMerkleLeafHash()); got != hashSize {
			return nil, status.Errorf(codes.FailedPrecondition, "badgerstore: leaves[%d] has incorrect Merkle leaf hash size %d, want %d", i, got, hashSize)
		}
		if leaf.LeafIndex < 0 {
			return nil, status.Errorf(codes.FailedPrecondition, "badgerstore: leaves[%d] has negative index %d", i, leaf.LeafIndex)
		}
	}
	treeID := tree.GetTreeId()
	nanos := timestamp.UnixNano()
	var ret []*trillian.QueuedLogLeaf
	s.leafMu.Lock()
	defer s.leafMu.Unlock()
	known, err := s.ids.tree(s, treeID)
	if err != nil {
		return nil, err
	}
	err = s.update(ctx, "AddSequencedLeaves", func(txn *badger.Txn) error {
		ret = make([]*trillian.QueuedLogLeaf, len(leaves))
		ids := make(map[string]bool, len(leaves))
		idxs := make(map[int64]bool, len(leaves))
		for i, leaf := range leaves {
			// Check both keys before writing either: there are no savepoints.
			idKey, seqKey := s.k.leaf(treeID, leaf.LeafIdentityHash), s.k.seq(treeID, leaf.LeafIndex)
			idTaken, err := exists(txn, idKey)
			if err != nil {
				return err
			}
			if idTaken || ids[string(leaf.LeafIdentityHash)] {
				ret[i] = &trillian.QueuedLogLeaf{Status: status.New(codes.FailedPrecondition, "conflicting LeafIdentityHash").Proto()}
				continue
			}
			idxTaken, err := exists(txn, seqKey)
			if err != nil {
				return err
			}
			if idxTaken || idxs[leaf.LeafIndex] {
				ret[i] = &trillian.QueuedLogLeaf{Status: status.New(codes.FailedPrecondition, "conflicting LeafIndex").Proto()}
				continue
			}
			ids[string(leaf.LeafIdentityHash)], idxs[leaf.LeafIndex] = true, true
			lr := leafRecord{queueNanos: nanos, merkleHash: leaf.MerkleLeafHash, value: leaf.LeafValue, extra: leaf.ExtraData}
			sr := seqRecord{integrateNanos: 0, identityHash: leaf.LeafIdentityHash, merkleHash: leaf.MerkleLeafHash}
			for _, kv := range [][2][]byte{
				{idKey, lr.marshal()},
				{seqKey, sr.marshal()},
				{s.k.merkle(treeID, leaf.MerkleLeafHash, leaf.LeafIndex), nil},
			} {
				if err := setChecked(s, txn, kv[0], kv[1]); err != nil {
					return err
				}
			}
			known.add(leaf.LeafIdentityHash)
			ret[i] = &trillian.QueuedLogLeaf{Leaf: leaf, Status: status.New(codes.OK, "OK").Proto()}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return ret, nil
}

func exists(txn *badger.Txn, key []byte) (bool, error) {
	_, err := txn.Get(key)
	switch err {
	case nil:
		return true, nil
	case badger.ErrKeyNotFound:
		return false, nil
	default:
		return false, fmt.Errorf("badgerstore: reading key %x: %w", key, err)
	}
}

// DequeueLeaves returns up to limit leaves to integrate. For a LOG tree these are the oldest
// queued leaves by arrival whose queue time is at most cutoff (or is implausibly far past it,
// see Options.ClockStepTolerance); the pass stops at the first leaf still inside the guard
// window, preserving FIFO order. They leave the queue only if UpdateSequencedLeaves is called
// for them and the transaction commits. For a PREORDERED_LOG tree these are the stored leaves
// that follow the current tree size.
func (t *logTX) DequeueLeaves(ctx context.Context, limit int, cutoff time.Time) ([]*trillian.LogLeaf, error) {
	end, err := t.begin((*logTX).writable)
	if err != nil {
		return nil, err
	}
	defer end()
	if limit <= 0 {
		return nil, status.Errorf(codes.InvalidArgument, "badgerstore: dequeue limit %d, want > 0", limit)
	}
	// Keep a pass well inside Badger's transaction limits: a dequeued leaf costs three
	// entries of about 100 bytes, plus tiles.
	limit = min(limit, int(t.s.db.MaxBatchCount()/8), int(t.s.db.MaxBatchSize()/1024))
	if t.treeType == trillian.TreeType_PREORDERED_LOG {
		return t.getLeavesByRange(int64(t.root.TreeSize), int64(limit))
	}
	if t.treeType != trillian.TreeType_LOG {
		return nil, status.Errorf(codes.FailedPrecondition, "badgerstore: cannot dequeue from tree %d of type %v", t.treeID, t.treeType)
	}
	cutoffNanos := cutoff.UnixNano()
	futureNanos := cutoffNanos + int64(t.s.opts.ClockStepTolerance)
	prefix := t.s.k.treePrefix(tagQueue, t.treeID)
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true, PrefetchSize: min(limit, 256)})
	defer it.Close()

	leaves := make([]*trillian.LogLeaf, 0, min(limit, 1024))
	t.qStop, t.qScanned = qEnd, true
	for it.Seek(t.s.k.queue(t.treeID, t.qResume)); it.Valid(); it.Next() {
		item := it.Item()
		seq, err := trailingUint64(item.Key(), len(prefix))
		if err != nil {
			return nil, fmt.Errorf("badgerstore: queue of tree %d: %w", t.treeID, err)
		}
		if len(leaves) == limit {
			t.qStop = seq
			break
		}
		var qr queueRecord
		if err := item.Value(func(v []byte) (err error) { qr, err = unmarshalQueueRecord(v); return err }); err != nil {
			return nil, fmt.Errorf("badgerstore: queue entry %d of tree %d: %w", seq, t.treeID, err)
		}
		if qr.queueNanos > cutoffNanos && qr.queueNanos <= futureNanos {
			t.qStop = seq // inside the guard window
			break
		}
		if len(qr.identityHash) != hashSize {
			return nil, fmt.Errorf("badgerstore: queue entry %d of tree %d has a %d-byte identity hash", seq, t.treeID, len(qr.identityHash))
		}
		if _, dup := t.dequeued[string(qr.identityHash)]; dup {
			continue
		}
		t.dequeued[string(qr.identityHash)] = seq
		t.qSeen = append(t.qSeen, seq)
		leaves = append(leaves, &trillian.LogLeaf{
			LeafIdentityHash: qr.identityHash,
			MerkleLeafHash:   qr.merkleHash,
			QueueTimestamp:   timestamppb.New(time.Unix(0, qr.queueNanos)),
		})
	}
	switch {
	case t.qStop != qEnd:
		t.qResume = t.qStop
	case len(t.qSeen) > 0:
		t.qResume = t.qSeen[len(t.qSeen)-1] + 1
	}
	return leaves, nil
}

// UpdateSequencedLeaves records the index assigned to each leaf dequeued in this transaction
// and removes it from the queue. A leaf that was not dequeued here, or an index that is
// already taken, is an error.
func (t *logTX) UpdateSequencedLeaves(ctx context.Context, leaves []*trillian.LogLeaf) error {
	end, err := t.begin((*logTX).writable)
	if err != nil {
		return err
	}
	defer end()
	want := make(map[int64]bool, len(leaves))
	lo, hi := int64(1<<63-1), int64(-1)
	for _, leaf := range leaves {
		id := leaf.GetLeafIdentityHash()
		if _, ok := t.dequeued[string(id)]; !ok {
			return status.Errorf(codes.FailedPrecondition, "badgerstore: tree %d: leaf %x was not dequeued in this transaction", t.treeID, id)
		}
		if len(leaf.GetMerkleLeafHash()) != hashSize {
			return status.Errorf(codes.InvalidArgument, "badgerstore: tree %d: leaf %x has a %d-byte Merkle hash", t.treeID, id, len(leaf.GetMerkleLeafHash()))
		}
		if leaf.LeafIndex < 0 {
			return status.Errorf(codes.InvalidArgument, "badgerstore: tree %d: leaf %x has negative index %d", t.treeID, id, leaf.LeafIndex)
		}
		if want[leaf.LeafIndex] {
			return status.Errorf(codes.InvalidArgument, "badgerstore: tree %d: index %d assigned twice", t.treeID, leaf.LeafIndex)
		}
		want[leaf.LeafIndex] = true
		lo, hi = min(lo, leaf.LeafIndex), max(hi, leaf.LeafIndex)
		if err := leaf.GetIntegrateTimestamp().CheckValid(); err != nil {
			return status.Errorf(codes.InvalidArgument, "badgerstore: tree %d: leaf %x has an invalid integrate timestamp: %v", t.treeID, id, err)
		}
	}
	if len(leaves) == 0 {
		return nil
	}
	// A sequenced leaf is never overwritten. One seek over [lo, hi] finds any stored index
	// (the sequencer assigns contiguous indexes, so this is usually a single step).
	if taken, err := t.firstStoredIndex(lo, hi, want); err != nil {
		return err
	} else if taken >= 0 {
		return status.Errorf(codes.FailedPrecondition, "badgerstore: tree %d already has a leaf at index %d", t.treeID, taken)
	}
	for _, leaf := range leaves {
		id := leaf.LeafIdentityHash
		seq := t.dequeued[string(id)]
		sr := seqRecord{integrateNanos: leaf.IntegrateTimestamp.AsTime().UnixNano(), identityHash: id, merkleHash: leaf.MerkleLeafHash}
		if err := t.set(t.s.k.seq(t.treeID, leaf.LeafIndex), sr.marshal()); err != nil {
			return err
		}
		if err := t.set(t.s.k.merkle(t.treeID, leaf.MerkleLeafHash, leaf.LeafIndex), nil); err != nil {
			return err
		}
		if err := t.txn.Delete(t.s.k.queue(t.treeID, seq)); err != nil {
			return fmt.Errorf("badgerstore: removing queue entry %d of tree %d: %w", seq, t.treeID, err)
		}
		t.qDeleted[seq] = true
	}
	return nil
}

// firstStoredIndex returns the first index in [lo, hi] that is in want and already has a
// sequenced leaf (in storage or written earlier in this transaction), or -1.
func (t *logTX) firstStoredIndex(lo, hi int64, want map[int64]bool) (int64, error) {
	prefix := t.s.k.treePrefix(tagSeq, t.treeID)
	it := t.txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
	defer it.Close()
	for it.Seek(t.s.k.seq(t.treeID, lo)); it.Valid(); it.Next() {
		v, err := trailingUint64(it.Item().Key(), len(prefix))
		if err != nil {
			return 0, fmt.Errorf("badgerstore: sequenced leaves of tree %d: %w", t.treeID, err)
		}
		idx := int64(v)
		if idx > hi {
			break
		}
		if want[idx] {
			return idx, nil
		}
	}
	return -1, nil
}

var _ storage.LogTreeTX = (*logTX)(nil)
