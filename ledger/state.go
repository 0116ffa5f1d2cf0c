package ledger

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// stateStore keeps what the ledger adds to Trillian's storage: the ID of its tree and the
// history of its signed checkpoints. Checkpoints are keyed by tree size, which only grows.
type stateStore interface {
	treeID() (id int64, ok bool, err error)
	setTreeID(id int64) error
	// putCheckpoints stores checkpoints of increasing sizes, all above the latest stored,
	// in one write.
	putCheckpoints(cs []SignedCheckpoint) error
	latestCheckpoint() (c SignedCheckpoint, ok bool, err error)
	checkpointHistory() ([]SignedCheckpoint, error)
}

// memState is a stateStore in memory, paired with Trillian's memory storage.
type memState struct {
	mu   sync.Mutex
	id   int64
	cps  []SignedCheckpoint
	init bool
}

func (m *memState) treeID() (int64, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id, m.init, nil
}

func (m *memState) setTreeID(id int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.id, m.init = id, true
	return nil
}

func (m *memState) putCheckpoints(cs []SignedCheckpoint) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last *SignedCheckpoint
	if n := len(m.cps); n > 0 {
		last = &m.cps[n-1]
	}
	if err := checkIncreasing(last, cs); err != nil {
		return err
	}
	for _, c := range cs {
		m.cps = append(m.cps, c.clone())
	}
	return nil
}

// checkIncreasing checks that cs have increasing sizes, all above last's if last is not nil.
func checkIncreasing(last *SignedCheckpoint, cs []SignedCheckpoint) error {
	for _, c := range cs {
		if last != nil && last.Size >= c.Size {
			return fmt.Errorf("checkpoint of size %d is not above the previous, %d", c.Size, last.Size)
		}
		last = &c
	}
	return nil
}

func (m *memState) latestCheckpoint() (SignedCheckpoint, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.cps) == 0 {
		return SignedCheckpoint{}, false, nil
	}
	return m.cps[len(m.cps)-1].clone(), true, nil
}

func (m *memState) checkpointHistory() ([]SignedCheckpoint, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]SignedCheckpoint, len(m.cps))
	for i, c := range m.cps {
		out[i] = c.clone()
	}
	return out, nil
}

// statePrefix starts every key the ledger writes in a shared Badger database. Its first byte
// (0xff) is outside the printable tags the Trillian backend uses.
var statePrefix = []byte("\xffparaphe.ledger/")

func stateKey(parts ...[]byte) []byte {
	return bytes.Join(append([][]byte{statePrefix}, parts...), nil)
}

var (
	treeIDKey        = stateKey([]byte("tree-id"))
	checkpointPrefix = stateKey([]byte("checkpoint/"))
)

func checkpointKey(size uint64) []byte {
	return binary.BigEndian.AppendUint64(bytes.Clone(checkpointPrefix), size)
}

// badgerState is a stateStore in the Badger database that also holds the Trillian tree.
// Writes are synced when the database has SyncWrites, as the appliance's has.
type badgerState struct {
	db *badger.DB
}

func (b badgerState) treeID() (int64, bool, error) {
	var id int64
	var ok bool
	err := b.db.View(func(txn *badger.Txn) error {
		it, err := txn.Get(treeIDKey)
		if errors.Is(err, badger.ErrKeyNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		return it.Value(func(v []byte) error {
			if len(v) != 8 {
				return fmt.Errorf("stored tree ID is %d bytes, want 8", len(v))
			}
			id, ok = int64(binary.BigEndian.Uint64(v)), true
			return nil
		})
	})
	if err != nil {
		return 0, false, fmt.Errorf("reading the ledger's tree ID: %w", err)
	}
	return id, ok, nil
}

func (b badgerState) setTreeID(id int64) error {
	err := b.db.Update(func(txn *badger.Txn) error {
		return txn.Set(treeIDKey, binary.BigEndian.AppendUint64(nil, uint64(id)))
	})
	if err != nil {
		return fmt.Errorf("storing the ledger's tree ID: %w", err)
	}
	return nil
}

func (b badgerState) putCheckpoints(cs []SignedCheckpoint) error {
	err := b.db.Update(func(txn *badger.Txn) error {
		latest, ok, err := latestIn(txn)
		if err != nil {
			return err
		}
		var last *SignedCheckpoint
		if ok {
			last = &latest
		}
		if err := checkIncreasing(last, cs); err != nil {
			return err
		}
		for _, c := range cs {
			if err := txn.Set(checkpointKey(c.Size), encodeCheckpoint(c)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("storing %d checkpoints: %w", len(cs), err)
	}
	return nil
}

func (b badgerState) latestCheckpoint() (SignedCheckpoint, bool, error) {
	var c SignedCheckpoint
	var ok bool
	err := b.db.View(func(txn *badger.Txn) error {
		var err error
		c, ok, err = latestIn(txn)
		return err
	})
	if err != nil {
		return SignedCheckpoint{}, false, fmt.Errorf("reading the latest checkpoint: %w", err)
	}
	return c, ok, nil
}

func latestIn(txn *badger.Txn) (SignedCheckpoint, bool, error) {
	opts := badger.DefaultIteratorOptions
	opts.Reverse = true
	opts.Prefix = checkpointPrefix
	it := txn.NewIterator(opts)
	defer it.Close()
	it.Seek(checkpointKey(^uint64(0)))
	if !it.Valid() {
		return SignedCheckpoint{}, false, nil
	}
	c, err := decodeItem(it.Item())
	return c, err == nil, err
}

func (b badgerState) checkpointHistory() ([]SignedCheckpoint, error) {
	var out []SignedCheckpoint
	err := b.db.View(func(txn *badger.Txn) error {
		opts := badger.DefaultIteratorOptions
		opts.Prefix = checkpointPrefix
		it := txn.NewIterator(opts)
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			c, err := decodeItem(it.Item())
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoint history: %w", err)
	}
	return out, nil
}

func decodeItem(it *badger.Item) (SignedCheckpoint, error) {
	var c SignedCheckpoint
	err := it.Value(func(v []byte) error {
		var err error
		c, err = decodeCheckpoint(v)
		return err
	})
	if err != nil {
		return SignedCheckpoint{}, fmt.Errorf("checkpoint record %x: %w", it.Key(), err)
	}
	return c, nil
}

// A stored checkpoint is: size (8 bytes), root hash length (1) and hash, note length (4) and
// note, then the timestamp token to the end.
func encodeCheckpoint(c SignedCheckpoint) []byte {
	b := binary.BigEndian.AppendUint64(nil, c.Size)
	b = append(b, byte(len(c.Hash)))
	b = append(b, c.Hash...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(c.Note)))
	b = append(b, c.Note...)
	return append(b, c.Token...)
}

func decodeCheckpoint(b []byte) (SignedCheckpoint, error) {
	bad := errors.New("truncated checkpoint record")
	if len(b) < 9 {
		return SignedCheckpoint{}, bad
	}
	var c SignedCheckpoint
	c.Size = binary.BigEndian.Uint64(b)
	hl := int(b[8])
	b = b[9:]
	if len(b) < hl+4 {
		return SignedCheckpoint{}, bad
	}
	c.Hash = bytes.Clone(b[:hl])
	b = b[hl:]
	nl := int(binary.BigEndian.Uint32(b))
	b = b[4:]
	if len(b) < nl {
		return SignedCheckpoint{}, bad
	}
	c.Note = bytes.Clone(b[:nl])
	c.Token = bytes.Clone(b[nl:])
	return c, nil
}
