package verify

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/transparency-dev/merkle/proof"
	"github.com/transparency-dev/merkle/rfc6962"
)

// LeafHash returns the RFC 6962 hash of a leaf: SHA-256 of 0x00 followed by the leaf bytes.
func LeafHash(leaf []byte) []byte {
	return rfc6962.DefaultHasher.HashLeaf(leaf)
}

// Inclusion verifies that the leaf with hash leafHash is at index in the tree committed to by
// c, using an RFC 6962 inclusion proof.
func Inclusion(c Checkpoint, index uint64, leafHash []byte, hashes [][]byte) error {
	if len(leafHash) != HashSize {
		return fmt.Errorf("inclusion: leaf hash of %d bytes, want %d", len(leafHash), HashSize)
	}
	if index >= c.Size {
		return fmt.Errorf("inclusion: index %d is not below the checkpoint size %d", index, c.Size)
	}
	if err := checkHashes(hashes); err != nil {
		return fmt.Errorf("inclusion: %w", err)
	}
	if err := proof.VerifyInclusion(rfc6962.DefaultHasher, index, c.Size, leafHash, hashes, c.Hash); err != nil {
		return fmt.Errorf("inclusion of index %d in size %d: %w", index, c.Size, err)
	}
	return nil
}

// Consistency verifies that the tree committed to by newer extends the tree committed to by
// older (same origin, nothing removed or rewritten), using an RFC 6962 consistency proof.
func Consistency(older, newer Checkpoint, hashes [][]byte) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("consistency: origins differ: %q and %q", older.Origin, newer.Origin)
	}
	if older.Size > newer.Size {
		return fmt.Errorf("consistency: older size %d is above newer size %d", older.Size, newer.Size)
	}
	if err := checkHashes(hashes); err != nil {
		return fmt.Errorf("consistency: %w", err)
	}
	if older.Size == newer.Size {
		if len(hashes) != 0 {
			return fmt.Errorf("consistency: proof of %d hashes between equal sizes, want none", len(hashes))
		}
		if !bytes.Equal(older.Hash, newer.Hash) {
			return fmt.Errorf("consistency: two different root hashes for size %d: the log forked", older.Size)
		}
		return nil
	}
	if older.Size == 0 {
		if len(hashes) != 0 {
			return fmt.Errorf("consistency: proof of %d hashes from size 0, want none", len(hashes))
		}
		if !bytes.Equal(older.Hash, rfc6962.DefaultHasher.EmptyRoot()) {
			return errors.New("consistency: older checkpoint of size 0 does not have the empty-tree root")
		}
		return nil
	}
	if err := proof.VerifyConsistency(rfc6962.DefaultHasher, older.Size, newer.Size, hashes, older.Hash, newer.Hash); err != nil {
		return fmt.Errorf("consistency from size %d to %d: %w", older.Size, newer.Size, err)
	}
	return nil
}

func checkHashes(hashes [][]byte) error {
	if len(hashes) > 128 {
		return fmt.Errorf("proof of %d hashes, more than any tree of 2^64 leaves needs", len(hashes))
	}
	for i, h := range hashes {
		if len(h) != HashSize {
			return fmt.Errorf("proof hash %d is %d bytes, want %d", i, len(h), HashSize)
		}
	}
	return nil
}
