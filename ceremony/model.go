package ceremony

import (
	"time"
)

// Status is the lifecycle state of an envelope: draft → sent → completed | declined | expired |
// voided. The last four are terminal: once reached, every signer action is refused.
type Status string

// Envelope statuses.
const (
	StatusDraft     Status = "draft"
	StatusSent      Status = "sent"
	StatusCompleted Status = "completed"
	StatusDeclined  Status = "declined"
	StatusExpired   Status = "expired"
	StatusVoided    Status = "voided"
)

// Terminal reports whether no signer action can change an envelope in this status.
func (s Status) Terminal() bool {
	switch s {
	case StatusCompleted, StatusDeclined, StatusExpired, StatusVoided:
		return true
	}
	return false
}

// SignerStatus is where one signer stands in the ceremony.
type SignerStatus string

// Signer statuses.
const (
	// SignerWaiting: not invited yet (sequential order, an earlier signer has not signed).
	SignerWaiting SignerStatus = "waiting"
	// SignerInvited: invited; reading and filling fields.
	SignerInvited SignerStatus = "invited"
	// SignerConsented: chose to sign; a code was sent and not yet verified.
	SignerConsented SignerStatus = "consented"
	// SignerLocked: five wrong codes; only the sender can re-invite.
	SignerLocked SignerStatus = "locked"
	// SignerSigning: code verified; certificate issuance and signing are under way.
	SignerSigning SignerStatus = "signing"
	// SignerSigned: every document carries this signer's signature.
	SignerSigned SignerStatus = "signed"
	// SignerRefused: refused with a reason; the envelope is declined.
	SignerRefused SignerStatus = "refused"
)

// AwaitsLink reports whether a signer in this status is waiting on their link (invited or
// consented), so that a reminder applies.
func (s SignerStatus) AwaitsLink() bool { return s == SignerInvited || s == SignerConsented }

// Order is how signers are invited.
type Order string

// Signing orders.
const (
	// Sequential invites the signers with the lowest order value first, and the next group only
	// when every signer of the previous group has signed.
	Sequential Order = "sequential"
	// Parallel invites every signer when the envelope is sent.
	Parallel Order = "parallel"
)

// Envelope is a set of documents that a set of signers read, complete and sign.
type Envelope struct {
	ID        string            `json:"id"`
	Owner     string            `json:"owner"`
	Title     string            `json:"title"`
	Message   string            `json:"message,omitempty"`
	Order     Order             `json:"order"`
	Status    Status            `json:"status"`
	CreatedAt time.Time         `json:"created_at"`
	SentAt    time.Time         `json:"sent_at,omitzero"`
	ClosedAt  time.Time         `json:"closed_at,omitzero"`
	ExpiresAt time.Time         `json:"expires_at"`
	Reminders []Duration        `json:"reminders,omitempty"`
	Documents []Document        `json:"documents"`
	Signers   []Signer          `json:"signers"`
	Webhook   *Webhook          `json:"webhook,omitempty"`
	Salt      []byte            `json:"salt"`
	Events    uint64            `json:"events"`
	Finalized bool              `json:"finalized,omitempty"`
	Reason    string            `json:"reason,omitempty"`
	Meta      map[string]string `json:"meta,omitempty"`
	// Brand is the organisation the envelope is sent for, set at creation from its owner (see
	// Options.Brands); nil: the appliance's Options.Organization.
	Brand *Brand `json:"brand,omitempty"`
}

// Document is one PDF of an envelope. Its bytes live in the content-addressed document store;
// the envelope keeps their digests.
type Document struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Original string  `json:"original"` // SHA-256 (hex) of the PDF as uploaded
	Prepared string  `json:"prepared"` // SHA-256 of the PDF that signers read (fields added)
	Current  string  `json:"current"`  // SHA-256 of the latest version (signed so far)
	Pages    []Page  `json:"pages"`
	Fields   []Field `json:"fields,omitempty"`
	// Signatures are the signature boxes the sender placed; signers without one get the
	// automatic row at the bottom of the last page.
	Signatures []SignatureBox `json:"signatures,omitempty"`
}

// SignatureBox places one signer's visible signature on a page of a document.
type SignatureBox struct {
	Signer string `json:"signer"`
	Page   int    `json:"page"` // 1-based
	Rect   Rect   `json:"rect"`
}

// Page is one page of a document: its size in PDF points and the digest reported in page.read.
type Page struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Digest string  `json:"digest"`
}

// Field is a text field that one signer fills on one page.
type Field struct {
	ID        string `json:"id"`
	Label     string `json:"label"`
	Signer    string `json:"signer"`
	Page      int    `json:"page"` // 1-based
	Rect      Rect   `json:"rect"`
	Required  bool   `json:"required"`
	MaxLength int    `json:"max_length"`
	Pattern   string `json:"pattern,omitempty"`
}

// Rect is a rectangle in PDF user space (points, origin at the bottom left of the page).
type Rect struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	W float64 `json:"w"`
	H float64 `json:"h"`
}

// Signer is one party who reads and signs every document of the envelope.
type Signer struct {
	ID     string       `json:"id"`
	Name   string       `json:"name"`
	Email  string       `json:"email"`
	Phone  string       `json:"phone"`  // E.164
	Locale string       `json:"locale"` // fr or en
	Order  int          `json:"order"`
	Status SignerStatus `json:"status"`

	InvitedAt   time.Time `json:"invited_at,omitzero"`
	CompletedAt time.Time `json:"completed_at,omitzero"`
	// Read[d][p] is true when page p+1 of document d has been reported read.
	Read    [][]bool          `json:"read"`
	Values  map[string]string `json:"values,omitempty"`
	Consent *Consent          `json:"consent,omitempty"`
	OTP     OTP               `json:"otp"`
	Refusal string            `json:"refusal,omitempty"`
	// Signed[d] is the digest of document d after this signer's signature.
	Signed      []string `json:"signed,omitempty"`
	Certificate []byte   `json:"certificate,omitempty"` // DER
	// VerifiedEvent is the id of the otp.verified event the certificate is bound to.
	VerifiedEvent string     `json:"verified_event,omitempty"`
	Delivery      []Delivery `json:"delivery,omitempty"`
}

// Consent records the signer's choice to sign: when, and the digest of the text they were shown.
type Consent struct {
	At         time.Time `json:"at"`
	TextDigest string    `json:"text_digest"`
}

// OTP is the state of a signer's one-time codes. The code itself is never stored.
type OTP struct {
	Hash      []byte      `json:"hash,omitempty"`
	IssuedAt  time.Time   `json:"issued_at,omitzero"`
	ExpiresAt time.Time   `json:"expires_at,omitzero"`
	Failures  int         `json:"failures"`
	Sends     []time.Time `json:"sends,omitempty"`
	// HashVersion is 2 for a hash keyed with the service's code key (see codeHash); an
	// earlier version's unkeyed hash has none and is never verified.
	HashVersion int `json:"hash_version,omitempty"`
}

// Delivery is the outcome of one notification to a signer, kept visible in the envelope.
type Delivery struct {
	Kind     string    `json:"kind"` // invitation, reminder, code, completed
	Channel  string    `json:"channel"`
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
}

// Webhook is where the sender wants outcome notifications, signed with Secret.
//
// The state store keeps Secret sealed with Options.Secrets, bound to the envelope: an envelope
// read back has an empty Secret (the service opens it only to sign a delivery).
type Webhook struct {
	URL    string `json:"url"`
	Secret string `json:"secret"`

	sealed []byte // the stored, sealed Secret of an envelope read back
}

// Duration is a time.Duration that reads and writes as a Go duration string ("48h").
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// signer returns the index of the signer with this id, or -1.
func (e *Envelope) signer(id string) int {
	for i := range e.Signers {
		if e.Signers[i].ID == id {
			return i
		}
	}
	return -1
}

// PagesRead is how many pages of the envelope's documents the signer has reported read.
func (s *Signer) PagesRead() int {
	n := 0
	for _, doc := range s.Read {
		for _, read := range doc {
			if read {
				n++
			}
		}
	}
	return n
}
