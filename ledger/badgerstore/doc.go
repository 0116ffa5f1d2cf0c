// Package badgerstore stores Trillian v1.8 logs in an embedded Badger v4 database.
//
// A [Store] implements Trillian's storage.LogStorage and storage.AdminStorage and passes
// Trillian's own conformance suites (integration/storagetest, storage/testonly's
// AdminStorageTester, the in-process log integration test and the golden tile dumps of
// integration/format). Merkle tiles use Trillian's storage/cache unchanged.
//
// Guarantees:
//
//   - Durability: every method that writes returns only after its Badger transaction is
//     committed with SyncWrites, so an acknowledged QueueLeaves, AddSequencedLeaves or
//     ReadWriteTransaction survives a crash of the process or of the machine.
//   - Atomicity: a call either applies all of its writes or none. A batch that does not fit
//     in one Badger transaction is refused with codes.ResourceExhausted before anything is
//     written; it is never split.
//   - Dedup: leaves are unique per tree by LeafIdentityHash. QueueLeaves returns
//     codes.AlreadyExists with the stored leaf for a duplicate, including a duplicate inside
//     the same batch. New leaves are told from stored ones by per-tree Bloom filters of the
//     stored identity hashes, so a batch of new leaves costs no lookups; writers of leaves
//     are serialised from their checks to their commit (see identities.go), and one Store
//     only may write a database's key prefix.
//   - Order: queued leaves are dequeued in arrival order (FIFO inside a batch and across
//     batches), keyed by a persisted monotonic sequence number, never by wall time, so a
//     clock that steps backwards can neither reorder nor strand queued leaves.
//   - Append-only history: sequenced leaves are never overwritten, and every stored log root
//     is kept; the latest root is the one with the greatest timestamp.
//   - Concurrency: Badger's optimistic conflicts (badger.ErrConflict) are retried by rerunning
//     the whole transaction, as storage.LogStorage allows. Every transaction object is safe
//     for use from several goroutines (calls are serialised). Run one sequencer per tree.
//
// Queue passes do not slow down as the log grows: each tree keeps an in-process low-water
// mark below which every queue entry is known to be deleted, and a pass seeks straight to it
// instead of walking the tombstones of earlier passes (see queue.go).
//
// Key layout (every key starts with Options.KeyPrefix, so the store can share a database):
//
//	T tree(8)                        trillian.Tree proto
//	L tree(8) identityHash           leaf data: queue time, Merkle hash, value, extra data
//	Q tree(8) seq(8)                 queue entry: queue time, identity hash, Merkle hash
//	S tree(8) index(8)               sequenced leaf: integrate time, identity hash, Merkle hash
//	M tree(8) merkleHash index(8)    index by Merkle leaf hash (empty value)
//	N tree(8) tileID(0..7)           storagepb.SubtreeProto tile, one version, overwritten
//	R tree(8) timestamp(8)           every stored log root (types.LogRootV1 bytes)
//	H tree(8)                        the latest log root (greatest timestamp)
//	C                                lease of the queue sequence counter
//
// Integers are big-endian so that Badger's byte order is numeric order.
package badgerstore
