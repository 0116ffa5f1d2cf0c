package ceremony

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// RunDue performs everything that is due at the service's clock: expiries, reminders,
// completion emails left unsent by a crash and webhook attempts stored under ceremony/due/,
// then resumes unfinished work (invitations, signing, finalization) of active envelopes. Due
// items are stored in Badger, so they survive restarts; each is removed once handled.
func (s *Service) RunDue(ctx context.Context) error {
	now := s.now()
	limit := fmt.Sprintf("%s%020d", kDue, now.UnixNano())
	var keys []string
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: []byte(kDue)})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := string(it.Item().KeyCopy(nil))
			if k[:len(limit)] > limit {
				break
			}
			keys = append(keys, k)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("ceremony: scan due items: %w", err)
	}
	for _, k := range keys {
		if err := ctx.Err(); err != nil {
			return err
		}
		parts := strings.SplitN(strings.TrimPrefix(k, kDue), "/", 4)
		if len(parts) < 3 {
			continue
		}
		env, kind := parts[1], parts[2]
		ref := ""
		if len(parts) == 4 {
			ref = parts[3]
		}
		var herr error
		switch kind {
		case "expire":
			_, _, herr = s.Expire(ctx, env)
		case "remind":
			herr = s.remindAll(ctx, env)
		case "webhook":
			herr = s.deliverWebhook(ctx, env, ref)
		case "completed":
			herr = s.mailCompleted(ctx, env, k)
		}
		if re, ok := AsError(herr); ok && re.Status < 500 {
			herr = nil // the envelope moved on (finished, voided…): nothing left to do
		}
		if herr != nil {
			s.log.Warn("ceremony: due item failed; will retry", "envelope", env, "kind", kind, "err", herr)
			continue
		}
		if err := s.state.write(func(txn *badger.Txn) error { return txn.Delete([]byte(k)) }); err != nil {
			return fmt.Errorf("ceremony: remove due item: %w", err)
		}
	}
	return s.Resume(ctx)
}

func (s *Service) remindAll(ctx context.Context, id string) error {
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return err
	}
	if e.Status != StatusSent {
		return nil
	}
	for _, sg := range e.Signers {
		if !sg.Status.AwaitsLink() {
			continue
		}
		if _, err := s.Remind(ctx, id, sg.ID); err != nil {
			if re, ok := AsError(err); ok && re.Status < 500 {
				continue
			}
			return err
		}
	}
	return nil
}

// Resume continues the work of every active envelope: signers whose code was verified but
// whose documents are not all signed, envelopes whose last signer signed but which are not
// finalized, and signers whose turn has come but who were not invited.
func (s *Service) Resume(ctx context.Context) error {
	var ids []string
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kActive, func(k string, _ []byte) error {
			ids = append(ids, strings.TrimPrefix(k, kActive))
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ceremony: list active envelopes: %w", err)
	}
	var first error
	for _, id := range ids {
		e, err := s.Envelope(ctx, id)
		if err != nil {
			continue
		}
		if e.Status != StatusSent {
			continue
		}
		for _, sg := range e.Signers {
			if sg.Status == SignerSigning {
				if err := s.signAll(ctx, id, sg.ID); err != nil && first == nil {
					first = err
				}
			}
		}
		if AllSigned(e) {
			if err := s.finalize(ctx, id); err != nil && first == nil {
				first = err
			}
			continue
		}
		if _, err := s.inviteDue(ctx, id); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Run calls RunDue every interval until ctx ends.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if err := s.RunDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Warn("ceremony: scheduler", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
