package badgerstore

import (
	"fmt"
	"hash/maphash"
	"math"

	"github.com/dgraph-io/badger/v4"
)

// identities remembers, per tree, every leaf identity hash the store holds, in Bloom filters,
// so that queueing a leaf that is certainly new skips its Badger lookup. A lookup that misses
// searches every memtable and checks a Bloom filter per table, sometimes reading a block:
// about 5 µs, a third of a 64-leaf group commit's time.
//
// A filter answers "maybe" or "certainly not"; "maybe" costs the lookup as before. Skipping
// the lookup also skips Badger's conflict detection for that key, so every writer of leaf
// keys holds Store.leafMu from its check until its commit has returned: two transactions can
// then never both take a new identity hash. Only one Store may write a key prefix of a
// database (the queue counter already requires it).
//
// A tree's filters are built on its first write after Open, by reading its leaf keys (about
// 0.3 s per million leaves), and cost about 1.2 bytes per leaf. Deleting a tree leaves stale
// entries, which only cost lookups.
type identities struct {
	seed  maphash.Seed
	trees map[int64]*bloomChain
}

func newIdentities() identities {
	return identities{seed: maphash.MakeSeed(), trees: make(map[int64]*bloomChain)}
}

// tree returns the filters of treeID, reading its leaf keys in s the first time.
func (ids *identities) tree(s *Store, treeID int64) (*bloomChain, error) {
	if c, ok := ids.trees[treeID]; ok {
		return c, nil
	}
	c := &bloomChain{seed: ids.seed}
	prefix := s.k.treePrefix(tagLeaf, treeID)
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		var hashes []uint64
		for it.Rewind(); it.Valid(); it.Next() {
			hashes = append(hashes, c.hash(it.Item().Key()[len(prefix):]))
		}
		c.grow(len(hashes))
		for _, h := range hashes {
			c.filters[0].add(h)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("badgerstore: reading the leaf identities of tree %d: %w", treeID, err)
	}
	ids.trees[treeID] = c
	return c, nil
}

// bloomChain is a scalable Bloom filter: when the newest filter is full, another twice its
// capacity is added, so the false-positive rate stays near bloomFalsePositive at any size.
type bloomChain struct {
	seed    maphash.Seed
	filters []*bloom
}

const (
	bloomFalsePositive = 0.01
	bloomMinCapacity   = 1 << 16
)

// grow adds a filter with room for at least n more identities.
func (c *bloomChain) grow(n int) {
	capacity := bloomMinCapacity
	if len(c.filters) > 0 {
		capacity = 2 * c.filters[len(c.filters)-1].capacity
	}
	capacity = max(capacity, 2*n)
	c.filters = append(c.filters, newBloom(capacity, bloomFalsePositive))
}

func (c *bloomChain) hash(id []byte) uint64 { return maphash.Bytes(c.seed, id) }

// mayContain reports whether id may have been added; false is certain.
func (c *bloomChain) mayContain(id []byte) bool {
	h := c.hash(id)
	for _, f := range c.filters {
		if f.mayContain(h) {
			return true
		}
	}
	return false
}

func (c *bloomChain) add(id []byte) {
	last := c.filters[len(c.filters)-1]
	if last.n >= last.capacity {
		c.grow(0)
		last = c.filters[len(c.filters)-1]
	}
	last.add(c.hash(id))
}

// bloom is a Bloom filter over 64-bit hashes, probed by double hashing.
type bloom struct {
	bits        []uint64
	k           uint32
	n, capacity int
}

func newBloom(capacity int, fp float64) *bloom {
	m := math.Ceil(-float64(capacity) * math.Log(fp) / (math.Ln2 * math.Ln2))
	words := max(1, int(m+63)/64)
	k := max(1, uint32(math.Round(float64(words*64)/float64(capacity)*math.Ln2)))
	return &bloom{bits: make([]uint64, words), k: k, capacity: capacity}
}

func (b *bloom) probes(h uint64, f func(bit uint64) bool) bool {
	m := uint64(len(b.bits)) * 64
	h1, h2 := h, h>>32|h<<32|1
	for i := range uint64(b.k) {
		if !f((h1 + i*h2) % m) {
			return false
		}
	}
	return true
}

func (b *bloom) mayContain(h uint64) bool {
	return b.probes(h, func(bit uint64) bool { return b.bits[bit/64]&(1<<(bit%64)) != 0 })
}

func (b *bloom) add(h uint64) {
	b.probes(h, func(bit uint64) bool { b.bits[bit/64] |= 1 << (bit % 64); return true })
	b.n++
}
