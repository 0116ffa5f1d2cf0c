package ceremony

import (
	"context"
	"time"

	"github.com/paraphe/paraphe/ledger/event"
)

// Event is one ceremony step as it goes into the ledger. Data never holds personal data in
// clear: names, emails, phones, IP addresses, field values and reasons appear only as
// commitments (see Options.Commit).
type Event struct {
	ID       string         `json:"id"`
	Type     string         `json:"type"`
	At       time.Time      `json:"at"`
	Envelope string         `json:"envelope"`
	Signer   string         `json:"signer,omitempty"`
	Data     map[string]any `json:"data,omitempty"`
}

// Receipt proves that an event is in the ledger: its leaf index and hash, the inclusion proof
// and the signed checkpoint the proof leads to.
type Receipt struct {
	Index      uint64   `json:"index"`
	LeafHash   []byte   `json:"leaf_hash"`
	Proof      [][]byte `json:"proof"`
	Checkpoint []byte   `json:"checkpoint"`
	TreeSize   uint64   `json:"tree_size"`
	Timestamp  []byte   `json:"timestamp,omitempty"` // RFC 3161 token over the checkpoint
}

// Ledger is the append-only log every ceremony step goes into. Append returns once the event
// is durable (it survives a crash and will be sequenced); appending an identical event again
// (same id and content, as when reconciling after a crash) must not create a second leaf or
// must at least be harmless.
type Ledger interface {
	Append(ctx context.Context, ev Event) (Pending, error)
}

// Pending is an appended event waiting to be sequenced.
type Pending interface {
	// Wait blocks until the event is sequenced and returns its receipt.
	Wait(ctx context.Context) (Receipt, error)
}

// Event types written by the ceremony.
const (
	EvEnvelopeCreated   = "envelope.created"
	EvEnvelopeSent      = "envelope.sent"
	EvInvitationSent    = "invitation.sent"
	EvLinkOpened        = "link.opened"
	EvPageRead          = "page.read"
	EvDocumentRead      = "document.read"
	EvFieldCompleted    = "field.completed"
	EvConsentGiven      = "consent.given"
	EvSignerRefused     = "signer.refused"
	EvOTPSent           = "otp.sent"
	EvOTPFailed         = "otp.failed"
	EvOTPLocked         = "otp.locked"
	EvOTPVerified       = "otp.verified"
	EvCertificateIssued = "certificate.issued"
	EvDocumentSigned    = "document.signed"
	EvSignerCompleted   = "signer.completed"
	EvEnvelopeCompleted = "envelope.completed"
	EvEnvelopeDeclined  = "envelope.declined"
	EvEnvelopeExpired   = "envelope.expired"
	EvEnvelopeVoided    = "envelope.voided"
	EvReminderSent      = "reminder.sent"
)

// CommitHMAC is the ledger's commitment (ledger/event.Commit): hex(HMAC-SHA256(salt, field ||
// 0x00 || value)). Whoever holds the salt and the clear value can open it; without the salt it
// reveals nothing practical about the value.
func CommitHMAC(salt []byte, field, value string) string { return event.Commit(salt, field, value) }
