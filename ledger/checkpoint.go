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

// CheckpointHistory returns every checkpoint published, oldest first.
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

// publish signs, timestamps and stores a checkpoint of the current tree head, then delivers
// the receipts it covers. It runs in Open, then only in the sequencer goroutine.
func (l *Log) publish(ctx context.Context) error {
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
			return fmt.Errorf("ledger: timestamping checkpoint %d: %w", head.size, err)
		}
	}
	cp := SignedCheckpoint{Size: head.size, Hash: bytes.Clone(head.hash), Note: signed, Token: token}
	if err := l.opts.Storage.state.putCheckpoint(cp); err != nil {
		return fmt.Errorf("ledger: %w", err)
	}
	l.lastPublish = time.Now()
	l.metrics.checkpoints.Inc()
	l.metrics.checkpointSize.Set(float64(cp.Size))

	l.mu.Lock()
	defer l.mu.Unlock()
	l.latest = cp
	kept := l.resolved[:0]
	for _, w := range l.resolved {
		if w.index < cp.Size {
			w.cp = cp
			l.metrics.receiptSeconds.Observe(time.Since(w.start).Seconds())
			close(w.ready)
			continue
		}
		kept = append(kept, w)
	}
	clear(l.resolved[len(kept):])
	l.resolved = kept
	return nil
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
