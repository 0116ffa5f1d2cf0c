package ceremony

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/dgraph-io/badger/v4"
)

// Envelopes returns the envelopes that owner created, newest first. It reads every envelope's
// state; it serves the sender's lists, not the ceremony's hot path.
func (s *Service) Envelopes(ctx context.Context, owner string) ([]*Envelope, error) {
	var out []*Envelope
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kEnvelope, func(_ string, v []byte) error {
			if err := ctx.Err(); err != nil {
				return err
			}
			var e Envelope
			if _, err := decodeEnvelope(v, &e); err != nil {
				return err
			}
			if e.Owner == owner {
				out = append(out, &e)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("ceremony: list envelopes: %w", err)
	}
	slices.SortFunc(out, func(a, b *Envelope) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}
