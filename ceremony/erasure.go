package ceremony

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// kErased + envelope id → ErasedEnvelope: what remains of an erased envelope.
const kErased = "ceremony/erased/"

// DefaultRetention is how long after an envelope is closed its personal data must be kept
// before Erase accepts to delete it: time for every party to download the evidence.
const DefaultRetention = 30 * 24 * time.Hour

// ErasedEnvelope is what the appliance keeps of an erased envelope: identifiers, dates and the
// final status, no personal data. The ledger keeps every event (commitments only), so the
// evidence bundles given out before the erasure still verify.
type ErasedEnvelope struct {
	ID        string    `json:"id"`
	Owner     string    `json:"owner"`
	Status    Status    `json:"status"` // the status the envelope had when erased
	CreatedAt time.Time `json:"created_at"`
	ClosedAt  time.Time `json:"closed_at,omitzero"`
	ErasedAt  time.Time `json:"erased_at"`
	Documents []string  `json:"documents"` // document identifiers
	Signers   []string  `json:"signers"`   // signer identifiers
	Event     string    `json:"event"`     // id of the envelope.erased event
	Events    uint64    `json:"events"`
}

func gone(e *ErasedEnvelope) *Error {
	return ruleErr(http.StatusGone, CodeErased, "the envelope's personal data and documents were erased on %s", e.ErasedAt.UTC().Format(time.RFC3339)).with("erased_at", e.ErasedAt)
}

// Erased returns what remains of an erased envelope, or a 404 *Error when id was not erased.
func (s *Service) Erased(ctx context.Context, id string) (*ErasedEnvelope, error) {
	if e, ok := s.erasedStub(id); ok {
		return e, nil
	}
	return nil, notFound(CodeEnvelopeNotFound, "no erased envelope %q", id)
}

func (s *Service) erasedStub(id string) (*ErasedEnvelope, bool) {
	var e ErasedEnvelope
	if err := s.opt.DB.View(func(txn *badger.Txn) error { return getJSON(txn, kErased+id, &e) }); err != nil {
		return nil, false
	}
	return &e, true
}

// Erase deletes the personal data of a finished envelope once retention has passed since it
// was closed: the clear values (names, emails, phones, field values, reasons), the commitment
// salt, the signer certificates and every version of its documents. The envelope.erased event
// records it in the ledger first; the ledger itself is untouched and stays verifiable, and the
// bundles given out before still verify (they carry their own salt and clear values).
//
// Erasure is physical: every version of the envelope's state is dropped from Badger's tables
// and write-ahead logs (DB.DropPrefix rewrites the tables that hold it), and the document
// files are unlinked unless another envelope still uses the same bytes. Erasing an erased
// envelope finishes any deletion a crash interrupted and records nothing new.
func (s *Service) Erase(ctx context.Context, id string, retention time.Duration) (*ErasedEnvelope, []Event, error) {
	if stub, ok := s.erasedStub(id); ok {
		return stub, nil, s.purge(ctx, id, nil)
	}
	var stub *ErasedEnvelope
	var digests []string
	_, evs, err := s.step(ctx, id, func(e *Envelope, m *machine, w *writes) ([]Event, error) {
		if !e.Status.Terminal() {
			return nil, conflict(CodeNotFinished, "the envelope is %s: only a completed, declined, expired or voided envelope can be erased", e.Status).with("status", string(e.Status))
		}
		if until := e.ClosedAt.Add(retention); m.now.Before(until) {
			return nil, conflict(CodeRetention, "the envelope's retention period runs until %s", until.UTC().Format(time.RFC3339)).with("erasable_at", until.UTC())
		}
		stub = &ErasedEnvelope{ID: e.ID, Owner: e.Owner, Status: e.Status, CreatedAt: e.CreatedAt, ClosedAt: e.ClosedAt, ErasedAt: m.now}
		for _, d := range e.Documents {
			stub.Documents = append(stub.Documents, d.ID)
			digests = append(digests, d.Original, d.Prepared, d.Current)
		}
		for _, sg := range e.Signers {
			stub.Signers = append(stub.Signers, sg.ID)
			digests = append(digests, sg.Signed...)
		}
		ev := m.event(e, EvEnvelopeErased, "", nil)
		stub.Event, stub.Events = ev.ID, e.Events
		redact(e)
		w.put(kErased+e.ID, stub)
		return []Event{ev}, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if err := s.purge(ctx, id, digests); err != nil {
		return stub, evs, err
	}
	return stub, evs, nil
}

// EvEnvelopeErased records an erasure.
const EvEnvelopeErased = "envelope.erased"

// redact removes every personal value from an envelope's state.
func redact(e *Envelope) {
	e.Title, e.Message, e.Salt, e.Meta, e.Webhook, e.Reason = "", "", nil, nil, nil, ""
	for i := range e.Documents {
		e.Documents[i].Name = ""
		for j := range e.Documents[i].Fields {
			e.Documents[i].Fields[j].Label = ""
		}
	}
	for i := range e.Signers {
		sg := &e.Signers[i]
		sg.Name, sg.Email, sg.Phone, sg.Values, sg.Refusal, sg.Certificate, sg.Delivery = "", "", "", nil, "", nil, nil
	}
}

// purge drops every version of the envelope's state from Badger and unlinks its documents
// (digests; nil reads them from the state if it is still there) that no other envelope uses.
func (s *Service) purge(ctx context.Context, id string, digests []string) error {
	if digests == nil {
		if e, err := s.Envelope(ctx, id); err == nil {
			for _, d := range e.Documents {
				digests = append(digests, d.Original, d.Prepared, d.Current)
			}
			for _, sg := range e.Signers {
				digests = append(digests, sg.Signed...)
			}
		}
	}
	inUse := map[string]bool{}
	err := s.opt.DB.View(func(txn *badger.Txn) error {
		return scan(txn, kEnvelope, func(k string, v []byte) error {
			if k == kEnvelope+id {
				return nil
			}
			var e Envelope
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			for _, d := range e.Documents {
				inUse[d.Original], inUse[d.Prepared], inUse[d.Current] = true, true, true
			}
			for _, sg := range e.Signers {
				for _, d := range sg.Signed {
					inUse[d] = true
				}
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("ceremony: erase %s: list documents in use: %w", id, err)
	}
	for _, d := range digests {
		if d == "" || inUse[d] {
			continue
		}
		if err := s.docs.remove(d); err != nil {
			return fmt.Errorf("ceremony: erase %s: %w", id, err)
		}
	}
	// DropPrefix only drops prefixes that still have a live key: the redacted state is one.
	if err := s.opt.DB.DropPrefix([]byte(kEnvelope+id), []byte("ceremony/pending/"+id)); err != nil {
		return fmt.Errorf("ceremony: erase %s: drop its state from the database: %w", id, err)
	}
	return nil
}

// remove unlinks a stored document and syncs its directory. A missing document is not an error.
func (s *DocStore) remove(digest string) error {
	if !hexDigest.MatchString(digest) {
		return fmt.Errorf("document %q: not a SHA-256 digest", digest)
	}
	p := s.path(digest)
	if err := os.Remove(p); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return fmt.Errorf("delete document %s: %w", digest, err)
	}
	dir, err := os.Open(filepath.Dir(p))
	if err != nil {
		return fmt.Errorf("delete document %s: %w", digest, err)
	}
	defer dir.Close()
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("delete document %s: fsync directory: %w", digest, err)
	}
	return nil
}
