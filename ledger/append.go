package ledger

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/trillian"
	"google.golang.org/grpc/codes"

	"github.com/paraphe/paraphe/ledger/event"
	"github.com/paraphe/paraphe/ledger/verify"
)

// Group commit limits: one durable queue write carries at most this many leaves and bytes,
// well under Badger's transaction limits.
const (
	maxCommitLeaves = 1024
	maxCommitBytes  = 4 << 20
)

// committers is the number of group committers. Two used to win (one gathered the next batch
// while the other's write synced) until badgerstore serialised the writers of new leaves to
// skip their lookups: since then one committer makes larger batches and 13% more appends/s
// with 64 writers (BenchmarkAppend), and receipts are as fast.
const committers = 1

// Pending is an appended event that is durably queued. Its receipt follows once it is
// sequenced and covered by a published checkpoint.
type Pending struct {
	l *Log
	w *waiter
	// ID is the event's identifier.
	ID string
	// LeafHash is the RFC 6962 hash of the event's leaf.
	LeafHash []byte
}

// Receipt proves that an event is in the ledger.
type Receipt struct {
	Index      uint64   // leaf index
	LeafHash   []byte   // RFC 6962 leaf hash
	Proof      [][]byte // inclusion proof of Index in the tree of Checkpoint
	Checkpoint []byte   // signed checkpoint note the proof verifies against
	TreeSize   uint64   // size stated by Checkpoint
	Timestamp  []byte   // RFC 3161 token over the checkpoint text (empty without a Timestamper)
}

// waiter tracks one appended leaf until its receipt is ready. Its fields are guarded by Log.mu
// until ready is closed, and read-only after.
type waiter struct {
	start    time.Time // when Append was called
	hash     []byte
	index    uint64
	resolved bool
	proof    [][]byte // inclusion proof in cp, when computed at publication
	cp       SignedCheckpoint
	ready    chan struct{}
}

type appendReq struct {
	w    *waiter
	leaf []byte
	hash []byte
	dup  bool  // the storage already held this leaf
	err  error // set by the committer before done is closed
	done chan struct{}
}

// Append validates e, encodes it as a canonical leaf and queues it durably. It returns once
// the storage has committed the leaf, in one write shared with concurrent calls (group
// commit); a call waits at most Options.GroupCommitWindow for company, and only after a larger
// write (see Options.GroupCommitWindow). An empty e.ID is
// filled with a fresh random identifier and a zero e.At with the current time.
//
// Events appended one after the other (each Append returning before the next begins) keep
// that order in the log; concurrent appends are ordered arbitrarily.
//
// An error means the event may not be in the ledger: invalid events are rejected before
// anything is written; after a context cancellation or a storage error the caller cannot know,
// and may append the identical event again (the same leaf is stored once where the storage
// deduplicates, as Badger does).
func (l *Log) Append(ctx context.Context, e Event) (Pending, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return Pending{}, fmt.Errorf("ledger: append: %w", err)
	}
	if e.ID == "" {
		id, err := event.NewID()
		if err != nil {
			return Pending{}, err
		}
		e.ID = id
	}
	if e.At.IsZero() {
		e.At = l.opts.Now().UTC().Truncate(time.Millisecond)
	}
	leaf, err := e.Marshal()
	if err != nil {
		l.metrics.appends.WithLabelValues("invalid").Inc()
		return Pending{}, fmt.Errorf("ledger: append: %w", err)
	}
	hash := verify.LeafHash(leaf)
	w := l.register(hash, start)
	req := &appendReq{w: w, leaf: leaf, hash: hash, done: make(chan struct{})}
	fail := func(err error) (Pending, error) {
		l.unregister(w)
		l.metrics.appends.WithLabelValues("error").Inc()
		return Pending{}, err
	}
	select {
	case l.commitCh <- req:
	case <-ctx.Done():
		return fail(fmt.Errorf("ledger: append of event %s: %w", e.ID, ctx.Err()))
	case <-l.closed:
		return fail(ErrClosed)
	}
	// From here on the committer owns the waiter: it unregisters it if the write fails.
	select {
	case <-req.done:
	case <-ctx.Done():
		l.metrics.appends.WithLabelValues("error").Inc()
		return Pending{}, fmt.Errorf("ledger: append of event %s (it may still be committed): %w", e.ID, ctx.Err())
	case <-l.closed:
		l.metrics.appends.WithLabelValues("error").Inc()
		return Pending{}, ErrClosed
	}
	if req.err != nil {
		l.metrics.appends.WithLabelValues("error").Inc()
		return Pending{}, fmt.Errorf("ledger: append of event %s: %w", e.ID, req.err)
	}
	if req.dup {
		// The identical leaf was queued before. If it is already sequenced, no sequencer pass
		// will report it again: look its index up now.
		idx, ok, err := l.lookupIndex(ctx, hash)
		if err != nil {
			return fail(fmt.Errorf("ledger: append of event %s: it was already queued, but looking it up failed: %w", e.ID, err))
		}
		if ok {
			l.resolveWaiter(w, idx)
		}
	}
	l.metrics.appends.WithLabelValues("ok").Inc()
	l.metrics.appendSeconds.Observe(time.Since(start).Seconds())
	return Pending{l: l, w: w, ID: e.ID, LeafHash: hash}, nil
}

// Wait blocks until the event is sequenced and covered by a published checkpoint, and returns
// its receipt.
func (p Pending) Wait(ctx context.Context) (Receipt, error) {
	if p.l == nil {
		return Receipt{}, errors.New("ledger: Wait on a zero Pending")
	}
	select {
	case <-p.w.ready:
	case <-ctx.Done():
		return Receipt{}, fmt.Errorf("ledger: waiting for the receipt of event %s: %w", p.ID, ctx.Err())
	case <-p.l.closed:
		return Receipt{}, ErrClosed
	}
	hashes := p.w.proof
	if hashes == nil {
		var err error
		if hashes, err = p.l.inclusionProof(ctx, p.w.index, p.w.cp.Size); err != nil {
			return Receipt{}, fmt.Errorf("ledger: receipt of event %s: %w", p.ID, err)
		}
	}
	return Receipt{
		Index:      p.w.index,
		LeafHash:   bytes.Clone(p.LeafHash),
		Proof:      cloneHashes(hashes),
		Checkpoint: bytes.Clone(p.w.cp.Note),
		TreeSize:   p.w.cp.Size,
		Timestamp:  bytes.Clone(p.w.cp.Token),
	}, nil
}

// register records a waiter for a leaf about to be queued.
func (l *Log) register(hash []byte, start time.Time) *waiter {
	w := &waiter{start: start, hash: hash, ready: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.unresolved[string(hash)] = append(l.unresolved[string(hash)], w)
	return w
}

// unregister forgets a waiter whose leaf was not queued.
func (l *Log) unregister(w *waiter) {
	l.mu.Lock()
	defer l.mu.Unlock()
	k := string(w.hash)
	ws := l.unresolved[k]
	for i, x := range ws {
		if x == w {
			ws = append(ws[:i:i], ws[i+1:]...)
			break
		}
	}
	if len(ws) == 0 {
		delete(l.unresolved, k)
	} else {
		l.unresolved[k] = ws
	}
}

// commitLoop is the group committer: it gathers the Append calls waiting at the moment and,
// while it has fewer than the previous write held, those arriving within the window; then it
// queues their leaves in one storage write.
func (l *Log) commitLoop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	last := 1 // calls in the previous write
	for {
		var first *appendReq
		select {
		case first = <-l.commitCh:
		case <-ctx.Done():
			return
		}
		batch := []*appendReq{first}
		size := len(first.leaf)
		deadline := time.Now().Add(l.opts.GroupCommitWindow)
	gather:
		for len(batch) < maxCommitLeaves && size < maxCommitBytes {
			select {
			case r := <-l.commitCh:
				batch = append(batch, r)
				size += len(r.leaf)
				continue
			default:
			}
			wait := time.Until(deadline)
			if wait <= 0 || len(batch) >= last {
				break
			}
			timer.Reset(wait)
			select {
			case r := <-l.commitCh:
				batch = append(batch, r)
				size += len(r.leaf)
				if !timer.Stop() {
					<-timer.C
				}
			case <-timer.C:
				break gather
			case <-ctx.Done():
				timer.Stop()
				return
			}
		}
		last = len(batch)
		l.commit(ctx, batch)
	}
}

// commit queues a batch of leaves in one storage write and acknowledges each caller.
func (l *Log) commit(ctx context.Context, batch []*appendReq) {
	leaves := make([]*trillian.LogLeaf, len(batch))
	for i, r := range batch {
		leaves[i] = &trillian.LogLeaf{
			LeafValue:        r.leaf,
			MerkleLeafHash:   bytes.Clone(r.hash),
			LeafIdentityHash: bytes.Clone(r.hash),
		}
	}
	l.metrics.queueWrites.Inc()
	l.metrics.queueBatch.Observe(float64(len(batch)))
	queued, err := l.opts.Storage.Log.QueueLeaves(ctx, l.tree, leaves, l.clock.Now())
	if err == nil && len(queued) != len(batch) {
		err = fmt.Errorf("storage answered %d statuses for %d leaves", len(queued), len(batch))
	}
	if err != nil {
		l.metrics.errors.WithLabelValues("queue").Inc()
		l.logger.Error("queueing leaves", "leaves", len(batch), "err", err)
	} else {
		l.wakeSequencer()
	}
	for i, r := range batch {
		switch {
		case err != nil:
			r.err = err
		case queued[i].GetStatus() == nil || codes.Code(queued[i].GetStatus().GetCode()) == codes.OK:
		case codes.Code(queued[i].GetStatus().GetCode()) == codes.AlreadyExists:
			r.dup = true
		default:
			r.err = fmt.Errorf("storage refused the leaf: %s", queued[i].GetStatus().GetMessage())
		}
		if r.err != nil {
			l.unregister(r.w)
		}
		close(r.done)
	}
}

func cloneHashes(h [][]byte) [][]byte {
	out := make([][]byte, len(h))
	for i, x := range h {
		out[i] = bytes.Clone(x)
	}
	return out
}
