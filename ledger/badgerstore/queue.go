package badgerstore

import (
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// Queue ordering and the low-water mark.
//
// Each queued leaf gets a sequence number from a counter that is persisted in leases
// (counterLease numbers at a time, the lease durably written before any of its numbers is
// used), so numbers only grow, across restarts too, whatever the wall clock does. Q keys are
// ordered by it: dequeueing is FIFO by arrival, inside a batch as well.
//
// Deleted queue entries stay in the LSM as tombstones until compaction drops them, and an
// iterator steps over every one of them. A pass that started at the head of the Q prefix
// would walk all entries ever dequeued since the last compaction (measured: 11 → 64 ms per
// 1000-leaf pass over 200k leaves). So each tree has a low-water mark: every queue entry
// with a smaller sequence number is known to be deleted, and a pass seeks to it.
//
// The mark must never pass an entry that is still to come. Numbers are allocated before the
// QueueLeaves transaction commits, so an entry with a small number can become visible after
// one with a larger number. A sequencer transaction therefore records, when it begins, the
// floor: the smallest number allocated to a QueueLeaves call that has not finished, or the
// next number to allocate. Every entry below the floor was committed (or abandoned) before
// the transaction's snapshot was taken, so the snapshot sees all of them. After the
// transaction commits, the mark moves to the smaller of the floor and the first entry the
// pass saw but did not delete. Marks only grow (max), which is safe because each one is a
// claim about entries that cannot reappear.

const counterLease = 1 << 16

type queueState struct {
	mu       sync.Mutex
	loaded   bool
	next     uint64           // next sequence number to allocate
	leased   uint64           // numbers below leased are durably reserved
	inflight map[uint64]int   // first number of each unfinished allocation → count
	lwm      map[int64]uint64 // tree → low-water mark
}

func (q *queueState) init() {
	q.inflight = make(map[uint64]int)
	q.lwm = make(map[int64]uint64)
}

// loadLocked reads the persisted lease; numbers of an unused part of a lease from an earlier
// run are skipped.
func (s *Store) loadCounterLocked() error {
	if s.queue.loaded {
		return nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(s.k.counter())
		if err == badger.ErrKeyNotFound {
			return nil
		}
		if err != nil {
			return err
		}
		return item.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("queue counter value has %d bytes, want 8", len(v))
			}
			s.queue.leased = binary.BigEndian.Uint64(v)
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("badgerstore: reading the queue counter: %w", err)
	}
	s.queue.next = s.queue.leased
	s.queue.loaded = true
	return nil
}

// allocQueueSeqs reserves n consecutive sequence numbers and registers them as in flight until
// releaseQueueSeqs(start) is called.
func (s *Store) allocQueueSeqs(n int) (uint64, error) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := s.loadCounterLocked(); err != nil {
		return 0, err
	}
	if q.next+uint64(n) > q.leased {
		leased := q.next + uint64(n) + counterLease
		err := s.db.Update(func(txn *badger.Txn) error {
			return txn.Set(s.k.counter(), binary.BigEndian.AppendUint64(nil, leased))
		})
		if err != nil {
			return 0, fmt.Errorf("badgerstore: leasing queue sequence numbers: %w", err)
		}
		q.leased = leased
	}
	start := q.next
	q.next += uint64(n)
	q.inflight[start]++
	return start, nil
}

func (s *Store) releaseQueueSeqs(start uint64) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.inflight[start]--; q.inflight[start] <= 0 {
		delete(q.inflight, start)
	}
}

// queueFloor returns the floor described above, and the tree's current low-water mark.
func (s *Store) queueFloor(treeID int64) (floor, lwm uint64, err error) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if err := s.loadCounterLocked(); err != nil {
		return 0, 0, err
	}
	floor = q.next
	for start := range q.inflight {
		floor = min(floor, start)
	}
	return floor, q.lwm[treeID], nil
}

func (s *Store) advanceLowWater(treeID int64, mark uint64) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	if mark > q.lwm[treeID] {
		q.lwm[treeID] = mark
	}
}

func (s *Store) forgetTree(treeID int64) {
	q := &s.queue
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.lwm, treeID)
}
