package ceremony

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// signAll signs every document for a signer whose code was verified: a fresh P-256 key, a
// certificate bound to the otp.verified leaf (certificate.issued), one signature per document
// (document.signed each), then signer.completed; the key is dropped when done. It resumes after
// a crash: documents already signed are skipped, and the key lost with the process is replaced
// by a new one with its own certificate, bound to the same otp.verified leaf. When the last
// signer is done it finalizes the envelope; otherwise it invites the next signers.
func (s *Service) signAll(ctx context.Context, id, signerID string) error {
	if _, err := s.signDocuments(ctx, id, signerID); err != nil {
		return err
	}
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return err
	}
	if AllSigned(e) {
		return s.finalize(ctx, id)
	}
	if _, err := s.inviteDue(ctx, id); err != nil {
		s.log.Warn("ceremony: inviting the next signers", "envelope", id, "err", err)
	}
	return nil
}

func (s *Service) signDocuments(ctx context.Context, id, signerID string) ([]Event, error) {
	l, release := s.lock(id)
	defer release()
	l.sign.Lock()
	defer l.sign.Unlock()
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return nil, err
	}
	si, err := signerIndex(e, signerID)
	if err != nil {
		return nil, err
	}
	sg := e.Signers[si]
	if sg.Status != SignerSigning {
		return nil, nil
	}
	rec, err := s.event(sg.VerifiedEvent)
	if err != nil {
		return nil, err
	}
	if rec.Receipt == nil {
		refs := s.Receipts(ctx, []Event{rec.Event}, 30*time.Second)
		if refs[0].Receipt == nil {
			return nil, fmt.Errorf("ceremony: otp.verified event %s of envelope %s is not sequenced yet", sg.VerifiedEvent, id)
		}
		rec.Receipt = refs[0].Receipt
	}
	// Every document still to sign must read back intact before a certificate is issued:
	// a damaged file would otherwise cost a certificate.issued at every retry and sign nothing.
	for d, doc := range e.Documents {
		if sd := sg.Signed; len(sd) == len(e.Documents) && sd[d] != "" {
			continue
		}
		if _, err := s.docs.Get(doc.Current); err != nil {
			return nil, fmt.Errorf("ceremony: document %s of %s cannot be signed: %w", doc.ID, id, err)
		}
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ceremony: signer key: %w", err)
	}
	defer func() { key = nil }() // the key exists only for this signing act
	cert, chain, err := s.opt.Issuer.IssueSigner(ctx, CertificateRequest{Name: sg.Name, Email: sg.Email, Organization: s.opt.Organization,
		PublicKey: &key.PublicKey, LeafIndex: rec.Receipt.Index, LeafHash: rec.Receipt.LeafHash})
	if err != nil {
		return nil, fmt.Errorf("ceremony: issue certificate for signer %s of %s: %w", signerID, id, err)
	}
	var all []Event
	_, evs, err := s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		if e.Signers[si].Status != SignerSigning {
			return nil, conflict(CodeSigning, "signer %s is %s", signerID, e.Signers[si].Status)
		}
		return m.certificateIssued(e, si, cert.Raw, cert.SerialNumber.Text(16), rec.Receipt.Index), nil
	})
	if err != nil {
		return nil, err
	}
	all = append(all, evs...)
	for d := range e.Documents {
		e, err := s.Envelope(ctx, id)
		if err != nil {
			return all, err
		}
		if sd := e.Signers[si].Signed; len(sd) == len(e.Documents) && sd[d] != "" {
			continue
		}
		doc := e.Documents[d]
		before := doc.Current
		pdf, err := s.docs.Get(before)
		if err != nil {
			return all, fmt.Errorf("ceremony: %w", err)
		}
		values := map[string]string{}
		for _, f := range doc.Fields {
			if f.Signer == signerID {
				values[f.ID] = e.Signers[si].Values[f.ID]
			}
		}
		out, err := s.opt.PDF.Sign(ctx, pdf, SignRequest{Signer: signerID, Name: sg.Name, Locale: sg.Locale, Reason: fmt.Sprintf("ledger %d", rec.Receipt.Index), Values: values, Key: key, Certificate: cert, Chain: chain})
		if err != nil {
			return all, fmt.Errorf("ceremony: sign document %s for signer %s: %w", doc.ID, signerID, err)
		}
		after, err := s.docs.Put(out)
		if err != nil {
			return all, fmt.Errorf("ceremony: %w", err)
		}
		_, evs, err := s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
			if e.Documents[d].Current != before || e.Signers[si].Status != SignerSigning {
				return nil, conflict(CodeSigning, "document %s changed while signing", doc.ID)
			}
			evs := m.documentSigned(e, si, d, before, after)
			if allSignedBy(e, si) {
				// The last signature and the signer's completion are one step (one write).
				evs = append(evs, m.signerCompleted(e, si)...)
			}
			return evs, nil
		})
		if err != nil {
			return all, err
		}
		all = append(all, evs...)
	}
	_, evs, err = s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		if e.Signers[si].Status != SignerSigning {
			return nil, nil
		}
		return m.signerCompleted(e, si), nil
	})
	return append(all, evs...), err
}

// finalize adds B-LT and B-LTA to every document once every signer has signed, completes the
// envelope (envelope.completed) and emails the signed documents to every signer.
func (s *Service) finalize(ctx context.Context, id string) error {
	l, release := s.lock(id)
	defer release()
	l.sign.Lock()
	e, err := s.Envelope(ctx, id)
	if err != nil {
		l.sign.Unlock()
		return err
	}
	if e.Status != StatusSent || !AllSigned(e) {
		l.sign.Unlock()
		return nil
	}
	finals := make([]string, len(e.Documents))
	for d, doc := range e.Documents {
		pdf, err := s.docs.Get(doc.Current)
		if err != nil {
			l.sign.Unlock()
			return fmt.Errorf("ceremony: %w", err)
		}
		out, err := s.opt.PDF.Finalize(ctx, pdf)
		if err != nil {
			l.sign.Unlock()
			return fmt.Errorf("ceremony: finalize document %s of %s: %w", doc.ID, id, err)
		}
		if finals[d], err = s.docs.Put(out); err != nil {
			l.sign.Unlock()
			return fmt.Errorf("ceremony: %w", err)
		}
		s.crashHold("finalize")
	}
	e, _, err = s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		evs, rerr := m.completed(e, finals)
		return evs, asErr(rerr)
	})
	l.sign.Unlock()
	if err != nil {
		return err
	}
	return s.mailCompleted(ctx, id, completedMailKey(e))
}

// completedMailKey is the due item that the envelope.completed step stores (derive) and that
// is removed once the completion emails are sent: after a crash between the two, the
// scheduler (RunDue) sends them. A crash after sending and before the removal sends them again.
func completedMailKey(e *Envelope) string { return dueKey(e.ClosedAt, e.ID, "completed", "") }

// mailCompleted emails the finalized documents to every signer of envelope id, unless it was
// done already (its due item, key, is gone).
func (s *Service) mailCompleted(ctx context.Context, id, key string) error {
	l, release := s.lock(id)
	defer release()
	l.sign.Lock()
	defer l.sign.Unlock()
	err := s.opt.DB.View(func(txn *badger.Txn) error { _, err := txn.Get([]byte(key)); return err })
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("ceremony: completion emails of %s: %w", id, err)
	}
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return err
	}
	s.sendCompleted(ctx, e)
	if err := s.state.write(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) }); err != nil {
		return fmt.Errorf("ceremony: completion emails of %s: %w", id, err)
	}
	return nil
}

// allSignedBy reports whether signer si has signed every document of the envelope.
func allSignedBy(e *Envelope, si int) bool {
	sd := e.Signers[si].Signed
	if len(sd) != len(e.Documents) {
		return false
	}
	for _, d := range sd {
		if d == "" {
			return false
		}
	}
	return true
}
