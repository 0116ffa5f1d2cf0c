package ceremony

import (
	"sync"

	"github.com/dgraph-io/badger/v4"
)

// groupMaxWrites bounds how many callers one shared transaction carries, well under Badger's
// transaction size limit for the small records the ceremony writes.
const groupMaxWrites = 128

// groupWriter coalesces concurrent writes to a Badger database into one transaction (group
// commit). With SyncWrites, Badger makes every committed transaction durable with its own
// msync of the write-ahead log and does not share syncs between concurrent transactions; a
// ceremony step costs one transaction, so without coalescing the appliance is bound by the
// disk's sync latency rather than by its CPU. A caller's write is durable when write returns,
// exactly as with DB.Update.
//
// No goroutine runs while nothing is queued: the first caller that finds the writer idle
// starts one, which commits batches until the queue is empty and then exits.
type groupWriter struct {
	db *badger.DB

	mu      sync.Mutex
	queue   []*groupReq
	running bool
}

type groupReq struct {
	fn   func(txn *badger.Txn) error
	err  error
	done chan struct{}
}

func newGroupWriter(db *badger.DB) *groupWriter { return &groupWriter{db: db} }

// write runs fn in a read-write transaction shared with concurrent callers and returns once
// that transaction is committed. fn sees the writes of the callers before it in the same
// transaction. fn may run twice (alone, after a failure of the shared transaction), so it must
// only read and write through txn. An error from fn or from the commit fails this caller only.
func (g *groupWriter) write(fn func(txn *badger.Txn) error) error {
	r := &groupReq{fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if !g.running {
		g.running = true
		go g.run()
	}
	g.mu.Unlock()
	<-r.done
	return r.err
}

func (g *groupWriter) run() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), groupMaxWrites)
		if n == 0 {
			g.running = false
			g.mu.Unlock()
			return
		}
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()
		g.commit(batch)
	}
}

// commit writes a batch in one transaction. If any caller's function fails, or the commit
// does (a conflict with a write made outside the group, a transaction too big), each caller is
// written alone instead, so that one failure never fails the others.
func (g *groupWriter) commit(batch []*groupReq) {
	defer func() {
		for _, r := range batch {
			close(r.done)
		}
	}()
	if len(batch) > 1 {
		txn := g.db.NewTransaction(true)
		ok := true
		for _, r := range batch {
			if err := r.fn(txn); err != nil {
				ok = false
				break
			}
		}
		if ok {
			if err := txn.Commit(); err == nil {
				return
			}
		} else {
			txn.Discard()
		}
	}
	for _, r := range batch {
		r.err = g.db.Update(r.fn)
	}
}
