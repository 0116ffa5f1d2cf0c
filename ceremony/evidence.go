package ceremony

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/paraphe/paraphe/evidence"
	"github.com/paraphe/paraphe/ledger"
	"github.com/paraphe/paraphe/ledger/verify"
)

// Error codes of evidence and erasure.
const (
	CodeEvidenceNotReady = "evidence_not_ready"
	CodeNotFinished      = "envelope_not_finished"
	CodeErased           = "envelope_erased"
	CodeRetention        = "retention_not_over"
)

// EvidenceLedger adapts the appliance's ledger (*ledger.Log) to evidence.Ledger.
type EvidenceLedger struct {
	Log *ledger.Log
}

// Checkpoint implements evidence.Ledger.
func (l EvidenceLedger) Checkpoint(ctx context.Context) ([]byte, []byte, error) {
	c, err := l.Log.Checkpoint(ctx)
	if err != nil {
		return nil, nil, err
	}
	return c.Note, c.Token, nil
}

// InclusionProof implements evidence.Ledger.
func (l EvidenceLedger) InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error) {
	return l.Log.InclusionProof(ctx, index, size)
}

// VerifierKey implements evidence.Ledger.
func (l EvidenceLedger) VerifierKey() string { return l.Log.VerifierKey() }

// Origin implements evidence.Ledger.
func (l EvidenceLedger) Origin() string { return l.Log.Origin() }

// EvidenceInput gathers what an evidence bundle of envelope id holds: with signer empty, every
// party's clear values; with a signer id, that signer's clear values and only the names and
// emails of the others (which their certificates in the signed PDFs show anyway). The envelope
// must be finished (completed, declined, expired or voided) and every one of its events
// sequenced; an erased envelope has no evidence left to give (410).
func (s *Service) EvidenceInput(ctx context.Context, id, signer string) (*evidence.Input, error) {
	e, err := s.Envelope(ctx, id)
	if err != nil {
		if er, ok := s.erasedStub(id); ok {
			return nil, gone(er)
		}
		return nil, err
	}
	if !e.Status.Terminal() {
		return nil, conflict(CodeNotFinished, "the envelope is %s: its evidence is given once it is completed, declined, expired or voided", e.Status).with("status", string(e.Status))
	}
	scope := evidence.ScopeEnvelope
	if signer != "" {
		if _, err := signerIndex(e, signer); err != nil {
			return nil, err
		}
		scope = evidence.ScopeSigner
	}
	in := &evidence.Input{Scope: scope, ScopeSigner: signer, Salt: bytes.Clone(e.Salt),
		Envelope: evidence.EnvelopeInfo{ID: e.ID, Title: e.Title, Sender: e.Owner, Status: string(e.Status), Order: string(e.Order),
			CreatedAt: e.CreatedAt, ClosedAt: e.ClosedAt, Reason: e.Reason}}
	for _, d := range e.Documents {
		info := evidence.DocumentInfo{ID: d.ID, Name: d.Name, Pages: len(d.Pages), Original: d.Original, Prepared: d.Prepared}
		for _, f := range d.Fields {
			info.Fields = append(info.Fields, evidence.FieldInfo{ID: f.ID, Label: f.Label, Signer: f.Signer, Page: f.Page, Required: f.Required})
		}
		in.Documents = append(in.Documents, evidence.InputDocument{Info: info})
		if d.Current != d.Prepared {
			pdf, err := s.docs.Get(d.Current)
			if err != nil {
				return nil, fmt.Errorf("ceremony: evidence of %s: %w", id, err)
			}
			in.Documents[len(in.Documents)-1].PDF = pdf
		}
	}
	for _, sg := range e.Signers {
		info := evidence.SignerInfo{ID: sg.ID, Order: sg.Order, Status: string(sg.Status), Name: sg.Name, Email: sg.Email}
		if signer == "" || signer == sg.ID {
			info.Phone, info.Locale, info.Refusal = sg.Phone, sg.Locale, sg.Refusal
			if len(sg.Values) > 0 {
				info.Values = make(map[string]string, len(sg.Values))
				for k, v := range sg.Values {
					info.Values[k] = v
				}
			}
		}
		in.Signers = append(in.Signers, evidence.InputSigner{Info: info, Certificate: bytes.Clone(sg.Certificate)})
	}
	leaves, err := s.evidenceLeaves(ctx, id)
	if err != nil {
		return nil, err
	}
	in.Leaves = leaves
	return in, nil
}

// evidenceLeaves returns every event of the envelope as its ledger leaf with its index,
// waiting a little for receipts that are not stored yet.
func (s *Service) evidenceLeaves(ctx context.Context, id string) ([]evidence.InputLeaf, error) {
	tl, err := s.Timeline(ctx, id)
	if err != nil {
		return nil, err
	}
	var waiting []Event
	for _, t := range tl {
		if t.Receipt == nil {
			waiting = append(waiting, t.Event)
		}
	}
	if len(waiting) > 0 {
		s.Receipts(ctx, waiting, 10*time.Second)
		if tl, err = s.Timeline(ctx, id); err != nil {
			return nil, err
		}
	}
	out := make([]evidence.InputLeaf, 0, len(tl))
	for _, t := range tl {
		if t.Receipt == nil {
			return nil, ruleErr(http.StatusServiceUnavailable, CodeEvidenceNotReady, "event %s (%s) is not sequenced in the ledger yet; try again shortly", t.Event.ID, t.Event.Type)
		}
		le, err := ToLedgerEvent(t.Event)
		if err != nil {
			return nil, fmt.Errorf("ceremony: evidence of %s: %w", id, err)
		}
		leaf, err := le.Marshal()
		if err != nil {
			return nil, fmt.Errorf("ceremony: evidence of %s: %w", id, err)
		}
		if !bytes.Equal(verify.LeafHash(leaf), t.Receipt.LeafHash) {
			return nil, fmt.Errorf("ceremony: evidence of %s: event %s does not encode to the leaf its receipt proves", id, t.Event.ID)
		}
		out = append(out, evidence.InputLeaf{Index: t.Receipt.Index, Leaf: leaf})
	}
	return out, nil
}
