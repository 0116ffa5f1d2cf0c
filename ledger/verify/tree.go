package verify

import (
	"bytes"
	"fmt"

	"github.com/transparency-dev/merkle/compact"
	"github.com/transparency-dev/merkle/rfc6962"
)

// Tree recomputes an RFC 6962 root from leaves appended in order, in memory logarithmic in the
// number of leaves. The zero value is not usable; call [NewTree].
type Tree struct {
	r *compact.Range
}

// NewTree returns an empty tree.
func NewTree() *Tree {
	f := &compact.RangeFactory{Hash: rfc6962.DefaultHasher.HashChildren}
	return &Tree{r: f.NewEmptyRange(0)}
}

// Append adds the next leaf (its bytes, not its hash).
func (t *Tree) Append(leaf []byte) {
	t.AppendHash(LeafHash(leaf))
}

// AppendHash adds the next leaf by its RFC 6962 leaf hash.
func (t *Tree) AppendHash(leafHash []byte) {
	// Append fails only for a visitor error or a range not starting at 0; neither can happen.
	_ = t.r.Append(bytes.Clone(leafHash), nil)
}

// Size returns the number of leaves appended.
func (t *Tree) Size() uint64 { return t.r.End() }

// Root returns the RFC 6962 root hash of the leaves appended so far.
func (t *Tree) Root() []byte {
	if t.r.End() == 0 {
		return rfc6962.DefaultHasher.EmptyRoot()
	}
	root, _ := t.r.GetRootHash(nil)
	return root
}

// RootFromLeaves returns the RFC 6962 root hash of the given leaves.
func RootFromLeaves(leaves [][]byte) []byte {
	t := NewTree()
	for _, l := range leaves {
		t.Append(l)
	}
	return t.Root()
}

// MatchesCheckpoint verifies that the leaves appended to t are exactly those the checkpoint
// commits to: same size, same root hash.
func (t *Tree) MatchesCheckpoint(c Checkpoint) error {
	if t.Size() != c.Size {
		return fmt.Errorf("tree: %d leaves, checkpoint size %d", t.Size(), c.Size)
	}
	if got := t.Root(); !bytes.Equal(got, c.Hash) {
		return fmt.Errorf("tree: root recomputed from %d leaves is %x, checkpoint says %x", c.Size, got, c.Hash)
	}
	return nil
}
