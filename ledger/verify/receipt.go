package verify

import (
	"fmt"

	"golang.org/x/mod/sumdb/note"
)

// Receipt verifies a ledger receipt as evidence bundles carry it: the signed checkpoint is
// signed by v (and has the given origin, when not empty), and leaf is at index in its tree
// according to the inclusion proof. It returns the checkpoint.
func Receipt(v note.Verifier, origin string, leaf []byte, index uint64, proof [][]byte, signedCheckpoint []byte) (Checkpoint, error) {
	c, err := OpenCheckpoint(signedCheckpoint, v, origin)
	if err != nil {
		return Checkpoint{}, fmt.Errorf("receipt: %w", err)
	}
	if err := Inclusion(c, index, LeafHash(leaf), proof); err != nil {
		return Checkpoint{}, fmt.Errorf("receipt: %w", err)
	}
	return c, nil
}
