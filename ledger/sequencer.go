package ledger

import (
	"context"
	"fmt"
	"time"

	tlog "github.com/google/trillian/log"
	"github.com/google/trillian/quota"
	"github.com/google/trillian/types"
)

// idlePoll is how often the sequencer looks for queued leaves when nothing woke it. Appends
// wake it at once; this only catches leaves queued by other means.
const idlePoll = time.Second

// wakeSequencer asks the sequencer for a pass, without blocking.
func (l *Log) wakeSequencer() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// sequenceLoop is the one sequencer of the tree: woken by appends, it integrates queued
// leaves in batches and publishes checkpoints, rate-limited.
func (l *Log) sequenceLoop(ctx context.Context) {
	idle := time.NewTicker(idlePoll)
	defer idle.Stop()
	cpTimer := time.NewTimer(time.Hour)
	cpTimer.Stop()
	cpArmed := false
	backoff := 10 * time.Millisecond   // after a failed pass
	cpBackoff := 10 * time.Millisecond // after a failed publication (a TSA refusing, say)
	var retryAt time.Time              // no publication attempt before
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-idle.C:
		case <-cpTimer.C:
			cpArmed = false
		}
		for {
			n, err := l.integrate(ctx)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				l.metrics.errors.WithLabelValues("sequence").Inc()
				l.logger.Error("sequencer pass", "err", err)
				l.fail(stepIntegrate, err)
				select {
				case <-time.After(backoff):
				case <-ctx.Done():
					return
				}
				backoff = min(2*backoff, time.Second)
				l.wakeSequencer()
				break
			}
			backoff = 10 * time.Millisecond
			if f := l.failing.Load(); f != nil && f.step == stepIntegrate {
				l.failing.Store(nil)
			}
			if l.head.size > l.latest.Size || l.latest.Note == nil {
				next := l.publishTAT.Add(-(checkpointBurst - 1) * l.opts.CheckpointInterval)
				if retryAt.After(next) {
					next = retryAt
				}
				if wait := time.Until(next); wait > 0 {
					if !cpArmed {
						cpTimer.Reset(wait)
						cpArmed = true
					}
				} else if err := l.publish(ctx, false); err != nil {
					if ctx.Err() != nil {
						return
					}
					l.metrics.errors.WithLabelValues("checkpoint").Inc()
					l.logger.Error("publishing a checkpoint", "size", l.head.size, "retry_in", cpBackoff, "err", err)
					l.fail(stepPublish, err)
					retryAt = time.Now().Add(cpBackoff)
					if !cpArmed {
						cpTimer.Reset(cpBackoff)
						cpArmed = true
					}
					cpBackoff = min(2*cpBackoff, 5*time.Second)
				} else {
					cpBackoff = 10 * time.Millisecond
					l.failing.Store(nil)
				}
			}
			if n < l.opts.BatchSize {
				break
			}
		}
	}
}

// integrate runs one sequencer pass and records which leaf got which index.
func (l *Log) integrate(ctx context.Context) (int, error) {
	start := time.Now()
	cs := &captureStorage{LogStorage: l.opts.Storage.Log}
	n, err := tlog.IntegrateBatch(ctx, l.tree, l.opts.BatchSize, 0, 0, l.clock, cs, quota.Noop())
	if err != nil {
		return 0, fmt.Errorf("integrating into tree %d: %w", l.tree.TreeId, err)
	}
	l.metrics.passSeconds.Observe(time.Since(start).Seconds())
	if n == 0 || cs.root == nil {
		return n, nil
	}
	var root types.LogRootV1
	if err := root.UnmarshalBinary(cs.root.LogRoot); err != nil {
		return n, fmt.Errorf("decoding the root stored by the sequencer: %w", err)
	}
	l.clock.raise(int64(root.TimestampNanos))
	l.head = treeHead{size: root.TreeSize, hash: root.RootHash}
	l.metrics.sequenced.Add(float64(n))
	l.metrics.treeSize.Set(float64(root.TreeSize))

	l.mu.Lock()
	defer l.mu.Unlock()
	for _, s := range cs.leaves {
		// The leaf answers every waiter for its hash: the caller that queued it, and any whose
		// identical leaf the storage deduplicated. (Where the storage keeps identical leaves
		// twice, each receipt proves the first copy, which is just as much in the log.) A leaf
		// nobody waits for was queued before a restart, or by a caller that gave up.
		k := string(s.hash)
		for _, w := range l.unresolved[k] {
			w.index, w.resolved = s.index, true
			l.resolved = append(l.resolved, w)
		}
		delete(l.unresolved, k)
	}
	return n, nil
}

// resolveWaiter records the index of a duplicate leaf found already sequenced, and delivers it
// if a published checkpoint covers it.
func (l *Log) resolveWaiter(w *waiter, index uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if w.resolved {
		return
	}
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
	w.index, w.resolved = index, true
	if index < l.latest.Size {
		w.cp = l.latest
		l.metrics.receiptSeconds.Observe(time.Since(w.start).Seconds())
		close(w.ready)
		return
	}
	l.resolved = append(l.resolved, w)
}

// lookupIndex returns the index of the first leaf with the given hash, if it is sequenced.
func (l *Log) lookupIndex(ctx context.Context, hash []byte) (uint64, bool, error) {
	tx, err := l.opts.Storage.Log.SnapshotForTree(ctx, l.tree)
	if err != nil {
		return 0, false, err
	}
	defer tx.Close()
	leaves, err := tx.GetLeavesByHash(ctx, [][]byte{hash}, true)
	if err != nil {
		return 0, false, err
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, false, err
	}
	for _, lf := range leaves {
		return uint64(lf.LeafIndex), true, nil
	}
	return 0, false, nil
}

// The sequencer's steps, as Status names them.
const (
	stepIntegrate = "integrating queued events"
	stepPublish   = "publishing a checkpoint"
)

// stepFailure is a sequencer step failing since a time.
type stepFailure struct {
	step  string
	since time.Time
	err   error
}

// fail records that step failed with err, keeping the time of the first failure in a row.
func (l *Log) fail(step string, err error) {
	f := &stepFailure{step: step, since: time.Now(), err: err}
	if prev := l.failing.Load(); prev != nil && prev.step == step {
		f.since = prev.since
	}
	l.failing.Store(f)
}

// Status reports whether the sequencer is working: nil while its last pass and its last
// checkpoint publication succeeded; otherwise an error naming the failing step, since when,
// and its last error. Appends may still succeed meanwhile (they are queued durably), but
// their receipts wait; the appliance's /healthz reports it.
func (l *Log) Status() error {
	f := l.failing.Load()
	if f == nil {
		return nil
	}
	return fmt.Errorf("ledger: %s has been failing since %s: %w", f.step, f.since.UTC().Format(time.RFC3339), f.err)
}
