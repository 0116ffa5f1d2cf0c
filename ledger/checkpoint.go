package ledger

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"

	"github.com/google/trillian"
	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
	"golang.org/x/mod/sumdb/note"

	"github.com/paraphe/paraphe/ledger/verify"
)

// SignedCheckpoint is a published checkpoint: the signed note and its timestamp token.
type SignedCheckpoint struct {
	Size  uint64 // tree size it commits to
	Hash  []byte // root hash at that size
	Note  []byte // C2SP tlog-checkpoint signed note (text/plain)
	Token []byte // RFC 3161 token over SHA-256 of the note text; empty without a Timestamper
}

func (c SignedCheckpoint) clone() SignedCheckpoint {
	return SignedCheckpoint{Size: c.Size, Hash: bytes.Clone(c.Hash), Note: bytes.Clone(c.Note), Token: bytes.Clone(c.Token)}
}

// Checkpoint returns the latest published checkpoint.
func (l *Log) Checkpoint(ctx context.Context) (SignedCheckpoint, error) {
	if err := ctx.Err(); err != nil {
		return SignedCheckpoint{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.latest.Note == nil {
		return SignedCheckpoint{}, errors.New("ledger: no checkpoint published yet")
	}
	return l.latest.clone(), nil
}

// CheckpointHistory returns the stored history of published checkpoints, oldest first. The
// latest publications may still be on their way to storage; after Close, none is.
func (l *Log) CheckpointHistory(ctx context.Context) ([]SignedCheckpoint, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return l.opts.Storage.state.checkpointHistory()
}

// VerifierKey returns the checkpoint verifier key (name+hash+base64).
func (l *Log) VerifierKey() string { return l.opts.VerifierKey }

// Origin returns the checkpoint origin.
func (l *Log) Origin() string { return l.opts.Origin }

// publish signs and timestamps a checkpoint of the current tree head, makes it the latest
// and delivers the receipts it covers. The tree head is already durable (the sequencer's
// transaction committed), so the checkpoint is safe to serve at once; its record joins the
// stored history through the history writer (historyLoop), or before publish returns when
// sync is set (at Open). A crash can lose the last records of the history, never the tree
// they commit to: the next Open publishes a checkpoint of at least that size.
//
// publish runs in Open, then only in the sequencer goroutine.
func (l *Log) publish(ctx context.Context, sync bool) error {
	head := l.head
	text := verify.Checkpoint{Origin: l.opts.Origin, Size: head.size, Hash: head.hash}.Text()
	signed, err := note.Sign(&note.Note{Text: text}, l.opts.Signer)
	if err != nil {
		return fmt.Errorf("ledger: signing checkpoint %d: %w", head.size, err)
	}
	var token []byte
	if l.opts.Timestamper != nil {
		digest := sha256.Sum256([]byte(text))
		if token, err = l.opts.Timestamper.Timestamp(ctx, digest[:], crypto.SHA256); err != nil {
			return fmt.Errorf("%w: checkpoint %d: %w", errTimestamp, head.size, err)
		}
	}
	cp := SignedCheckpoint{Size: head.size, Hash: bytes.Clone(head.hash), Note: signed, Token: token}
	if sync {
		if err := l.opts.Storage.state.putCheckpoints([]SignedCheckpoint{cp}); err != nil {
			return fmt.Errorf("ledger: %w", err)
		}
	} else {
		select {
		case l.history <- cp:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	// The publication budget (GCRA): on average one checkpoint per interval, bursts of
	// checkpointBurst.
	l.publishTAT = later(l.publishTAT, time.Now()).Add(l.opts.CheckpointInterval)
	l.metrics.checkpoints.Inc()
	l.metrics.checkpointSize.Set(float64(cp.Size))

	l.mu.Lock()
	l.latest = cp
	var covered []*waiter
	kept := l.resolved[:0]
	for _, w := range l.resolved {
		if w.index < cp.Size {
			w.cp = cp
			covered = append(covered, w)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.resolved[len(kept):])
	l.resolved = kept
	l.mu.Unlock()

	l.proveAll(ctx, cp.Size, covered)
	for _, w := range covered {
		l.metrics.receiptSeconds.Observe(time.Since(w.start).Seconds())
		close(w.ready)
	}
	return nil
}

// proveAll computes the inclusion proofs of the receipts a new checkpoint covers, in one read
// transaction, so that the tiles they share are read and rehashed once. A proof it cannot
// compute is left for Wait to ask the log server for.
func (l *Log) proveAll(ctx context.Context, size uint64, ws []*waiter) {
	if len(ws) == 0 {
		return
	}
	tx, err := l.opts.Storage.Log.SnapshotForTree(ctx, l.tree)
	if err != nil {
		l.logger.Warn("reading the tree for receipts", "err", err)
		return
	}
	defer tx.Close()
	for _, w := range ws {
		nodes, err := proof.Inclusion(w.index, size)
		if err != nil {
			continue
		}
		got, err := tx.GetMerkleNodes(ctx, nodes.IDs)
		if err != nil || len(got) != len(nodes.IDs) {
			l.logger.Warn("reading proof nodes for a receipt", "index", w.index, "size", size, "err", err)
			continue
		}
		hashes := make([][]byte, len(got))
		for i, n := range got {
			if n.ID != nodes.IDs[i] {
				hashes = nil
				break
			}
			hashes[i] = n.Hash
		}
		if hashes == nil {
			continue
		}
		if w.proof, err = nodes.Rehash(hashes, rfc6962.DefaultHasher.HashChildren); err != nil {
			w.proof = nil
		}
	}
	if err := tx.Commit(ctx); err != nil {
		l.logger.Warn("closing the receipts' read transaction", "err", err)
	}
}

// historyLoop writes published checkpoints to the stored history, in order, several per
// write when they come faster than the storage syncs. It returns once history is closed and
// drained.
func (l *Log) historyLoop() {
	backoff := 10 * time.Millisecond
	for cp := range l.history {
		batch := []SignedCheckpoint{cp}
	drain:
		for len(batch) < 256 {
			select {
			case c, ok := <-l.history:
				if !ok {
					break drain
				}
				batch = append(batch, c)
			default:
				break drain
			}
		}
		for {
			err := l.opts.Storage.state.putCheckpoints(batch)
			if err == nil {
				backoff = 10 * time.Millisecond
				break
			}
			l.metrics.errors.WithLabelValues("history").Inc()
			l.logger.Error("storing checkpoints", "from", batch[0].Size, "to", batch[len(batch)-1].Size, "err", err)
			select {
			case <-l.closed:
				return // the next Open publishes a checkpoint of the tree as it is
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}
}

// inclusionProof returns the inclusion proof of index in the tree of the given size.
func (l *Log) inclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	resp, err := l.logServer.GetInclusionProof(ctx, &trillian.GetInclusionProofRequest{
		LogId: l.tree.TreeId, LeafIndex: int64(index), TreeSize: int64(size),
	})
	if err != nil {
		return nil, fmt.Errorf("inclusion proof of %d in size %d: %w", index, size, err)
	}
	if resp.GetProof() == nil {
		return nil, fmt.Errorf("inclusion proof of %d in size %d: the tree is smaller", index, size)
	}
	return resp.GetProof().GetHashes(), nil
}

// consistencyProof returns the consistency proof between two tree sizes, 0 < from ≤ to.
func (l *Log) consistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if from == to {
		return [][]byte{}, nil
	}
	resp, err := l.logServer.GetConsistencyProof(ctx, &trillian.GetConsistencyProofRequest{
		LogId: l.tree.TreeId, FirstTreeSize: int64(from), SecondTreeSize: int64(to),
	})
	if err != nil {
		return nil, fmt.Errorf("consistency proof from %d to %d: %w", from, to, err)
	}
	if resp.GetProof() == nil {
		return nil, fmt.Errorf("consistency proof from %d to %d: the tree is smaller", from, to)
	}
	return resp.GetProof().GetHashes(), nil
}

// checkpointBurst is how many checkpoints may be published back to back after a quiet
// spell (see Options.CheckpointInterval).
const checkpointBurst = 4

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// errTimestamp marks a checkpoint that could not be published because the Timestamper refused
// (a TSA whose clock is not trusted, say): the tree is sound, and publication is retried.
var errTimestamp = errors.New("ledger: timestamping")
