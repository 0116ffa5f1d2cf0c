package event

import "sort"

// Type is the type of an event, from the closed list in [Types].
type Type string

// The event types. docs/LEDGER.md documents each one and its fields; the table in this file
// is the authority that [Event.Validate] enforces.
const (
	ApplianceInitialized Type = "appliance.initialized"
	ApplianceStarted     Type = "appliance.started"
	EnvelopeCreated      Type = "envelope.created"
	EnvelopeSent         Type = "envelope.sent"
	InvitationSent       Type = "invitation.sent"
	ReminderSent         Type = "reminder.sent"
	LinkOpened           Type = "link.opened"
	PageRead             Type = "page.read"
	DocumentRead         Type = "document.read"
	FieldCompleted       Type = "field.completed"
	ConsentGiven         Type = "consent.given"
	SignerRefused        Type = "signer.refused"
	OTPSent              Type = "otp.sent"
	OTPFailed            Type = "otp.failed"
	OTPLocked            Type = "otp.locked"
	OTPVerified          Type = "otp.verified"
	CertificateIssued    Type = "certificate.issued"
	DocumentSigned       Type = "document.signed"
	SignerCompleted      Type = "signer.completed"
	EnvelopeCompleted    Type = "envelope.completed"
	EnvelopeDeclined     Type = "envelope.declined"
	EnvelopeExpired      Type = "envelope.expired"
	EnvelopeVoided       Type = "envelope.voided"
	SealApplied          Type = "seal.applied"
	EnvelopeErased       Type = "envelope.erased"
)

// Scope says which of the envelope and signer identifiers an event carries.
type Scope int

const (
	// ScopeAppliance events concern the appliance itself: no envelope, no signer.
	ScopeAppliance Scope = iota
	// ScopeEnvelope events concern one envelope: envelope required, no signer.
	ScopeEnvelope
	// ScopeSigner events concern one signer of one envelope: both required.
	ScopeSigner
)

// Kind is the kind of value a field holds.
type Kind int

const (
	// KindID is an opaque identifier: 1 to 128 characters from A–Z a–z 0–9 . _ : -
	KindID Kind = iota
	// KindInt is an integer from 0 to 2^53−1 (exact in every JSON implementation).
	KindInt
	// KindDigest is a SHA-256 digest of public or already-protected data, 64 lowercase hex digits.
	KindDigest
	// KindCommitment is a commitment made by [Commit] to personal data, 64 lowercase hex digits.
	KindCommitment
	// KindDigests maps identifiers (KindID) to digests (KindDigest); at least one entry.
	KindDigests
	// KindText is public, non-personal text: 1 to 1024 printable ASCII characters.
	KindText
)

// Field describes one type-specific field of an event.
type Field struct {
	Name     string
	Kind     Kind
	Required bool
}

// Spec describes an event type: which identifiers it carries and its fields.
type Spec struct {
	Type   Type
	Scope  Scope
	Fields []Field
}

func req(name string, k Kind) Field { return Field{Name: name, Kind: k, Required: true} }
func opt(name string, k Kind) Field { return Field{Name: name, Kind: k} }

// specs is the closed list of event types. It is never modified.
var specs = map[Type]Spec{
	ApplianceInitialized: {Scope: ScopeAppliance, Fields: []Field{req("certificates", KindDigests), req("ledger_key", KindText)}},
	ApplianceStarted:     {Scope: ScopeAppliance, Fields: []Field{req("version", KindText)}},
	EnvelopeCreated:      {Scope: ScopeEnvelope, Fields: []Field{req("documents", KindDigests), req("signers", KindInt), opt("sender", KindCommitment)}},
	EnvelopeSent:         {Scope: ScopeEnvelope},
	InvitationSent:       {Scope: ScopeSigner, Fields: []Field{req("email", KindCommitment), opt("name", KindCommitment)}},
	ReminderSent:         {Scope: ScopeSigner, Fields: []Field{req("email", KindCommitment)}},
	LinkOpened:           {Scope: ScopeSigner, Fields: []Field{opt("ip", KindCommitment), opt("user_agent", KindCommitment)}},
	PageRead:             {Scope: ScopeSigner, Fields: []Field{req("document", KindID), req("page", KindInt), opt("digest", KindDigest)}},
	DocumentRead:         {Scope: ScopeSigner, Fields: []Field{req("document", KindID), req("digest", KindDigest)}},
	FieldCompleted:       {Scope: ScopeSigner, Fields: []Field{req("document", KindID), req("field", KindID), req("value", KindCommitment)}},
	ConsentGiven:         {Scope: ScopeSigner, Fields: []Field{req("text", KindDigest), opt("documents", KindDigests), opt("ip", KindCommitment)}},
	SignerRefused:        {Scope: ScopeSigner, Fields: []Field{req("reason", KindCommitment), opt("ip", KindCommitment)}},
	OTPSent:              {Scope: ScopeSigner, Fields: []Field{req("phone", KindCommitment)}},
	OTPFailed:            {Scope: ScopeSigner, Fields: []Field{req("attempt", KindInt)}},
	OTPLocked:            {Scope: ScopeSigner},
	OTPVerified:          {Scope: ScopeSigner, Fields: []Field{opt("ip", KindCommitment)}},
	CertificateIssued:    {Scope: ScopeSigner, Fields: []Field{req("serial", KindID), req("certificate", KindDigest), req("otp_leaf", KindInt)}},
	DocumentSigned:       {Scope: ScopeSigner, Fields: []Field{req("document", KindID), req("digest", KindDigest)}},
	SignerCompleted:      {Scope: ScopeSigner},
	EnvelopeCompleted:    {Scope: ScopeEnvelope},
	EnvelopeDeclined:     {Scope: ScopeEnvelope},
	EnvelopeExpired:      {Scope: ScopeEnvelope},
	EnvelopeVoided:       {Scope: ScopeEnvelope, Fields: []Field{opt("reason", KindCommitment)}},
	SealApplied:          {Scope: ScopeEnvelope, Fields: []Field{req("document", KindID), req("digest", KindDigest)}},
	EnvelopeErased:       {Scope: ScopeEnvelope},
}

// Lookup returns the specification of t, and false if t is not a known type.
func Lookup(t Type) (Spec, bool) {
	s, ok := specs[t]
	if !ok {
		return Spec{}, false
	}
	s.Type = t
	s.Fields = append([]Field(nil), s.Fields...)
	return s, true
}

// Types returns every known event type, sorted.
func Types() []Type {
	ts := make([]Type, 0, len(specs))
	for t := range specs {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts
}
