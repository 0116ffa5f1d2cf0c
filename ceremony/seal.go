package ceremony

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"

	"github.com/paraphe/paraphe/pades"
)

// Sealer applies the platform seal to a PDF (PAdES B-LTA).
type Sealer interface {
	Seal(ctx context.Context, pdf []byte) ([]byte, error)
}

// PAdESSealer seals with package pades and the platform seal key.
type PAdESSealer struct {
	Signer      crypto.Signer
	Chain       []*x509.Certificate // the seal certificate first, then its issuers
	Timestamper pades.Timestamper
	Revocation  pades.RevocationSource // nil: pades.HTTPRevocation; the appliance passes its CA's in-process source
	Certs       []*x509.Certificate    // the root, for the DSS
	Limits      pades.Limits
	Logger      *slog.Logger
}

// Seal implements Sealer.
func (p PAdESSealer) Seal(ctx context.Context, pdf []byte) ([]byte, error) {
	var out bytes.Buffer
	err := pades.Seal(ctx, bytes.NewReader(pdf), int64(len(pdf)), &out, pades.SealOptions{Signer: p.Signer, Chain: p.Chain, Timestamper: p.Timestamper,
		Revocation: p.Revocation, Certs: p.Certs, Appearance: pades.Appearance{Name: "Paraphe"}, Limits: p.Limits, Logger: p.Logger})
	if err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// ErrNoSealer means the service was built without a Sealer.
var ErrNoSealer = errors.New("ceremony: no sealer configured")

// Seal applies the platform seal to a PDF and records seal.applied (under a fresh seal
// identifier in the envelope slot, with the digest before as the document and the digest after)
// before returning the sealed PDF. A PDF that pades refuses is a 422 *Error.
func (s *Service) Seal(ctx context.Context, pdf []byte, sealer Sealer) ([]byte, Event, error) {
	if sealer == nil {
		return nil, Event{}, ErrNoSealer
	}
	if _, err := s.Inspect(ctx, pdf); err != nil {
		return nil, Event{}, unprocessable("invalid_pdf", "the PDF cannot be sealed: %v", err)
	}
	out, err := sealer.Seal(ctx, pdf)
	if err != nil {
		return nil, Event{}, fmt.Errorf("ceremony: seal: %w", err)
	}
	ev := Event{ID: randomID(), Type: "seal.applied", At: s.now().UTC().Truncate(1e6), Envelope: "seal-" + randomID(),
		Data: map[string]any{"document": Digest(pdf), "digest": Digest(out)}}
	if _, err := s.opt.Ledger.Append(ctx, ev); err != nil {
		return nil, Event{}, fmt.Errorf("ceremony: record seal.applied: %w", err)
	}
	return out, ev, nil
}
