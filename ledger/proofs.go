package ledger

import (
	"context"
	"fmt"
)

// InclusionProof returns the inclusion proof of the leaf at index in the tree of the given
// size, which must not exceed the latest published checkpoint. Evidence bundles use it to prove
// every leaf of an envelope against one checkpoint.
func (l *Log) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	if published := l.latestPublished().Size; size > published {
		return nil, fmt.Errorf("ledger: inclusion proof in size %d: the latest checkpoint is of size %d", size, published)
	}
	if index >= size {
		return nil, fmt.Errorf("ledger: inclusion proof of index %d in size %d: index out of range", index, size)
	}
	return l.inclusionProof(ctx, index, size)
}

// ConsistencyProof returns the consistency proof between two tree sizes, 0 < from ≤ to ≤ the
// size of the latest published checkpoint.
func (l *Log) ConsistencyProof(ctx context.Context, from, to uint64) ([][]byte, error) {
	if published := l.latestPublished().Size; to > published || from == 0 || from > to {
		return nil, fmt.Errorf("ledger: consistency proof from %d to %d: sizes must satisfy 0 < from ≤ to ≤ %d", from, to, published)
	}
	return l.consistencyProof(ctx, from, to)
}
