package ceremony

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"
)

// Policy holds the limits of the ceremony's rules.
type Policy struct {
	CodeTTL        time.Duration // validity of a code (10 min)
	MaxFailures    int           // wrong codes before the signer is locked (5)
	ResendGap      time.Duration // minimum time between two sends (60 s)
	SendsPerHour   int           // maximum sends in any hour (5)
	MaxReasonChars int           // maximum length of a refusal reason (2000)
}

// DefaultPolicy is the policy of DESIGN.md and issue 6.
func DefaultPolicy() Policy {
	return Policy{CodeTTL: 10 * time.Minute, MaxFailures: 5, ResendGap: time.Minute, SendsPerHour: 5, MaxReasonChars: 2000}
}

// machine applies the ceremony's rules to an envelope. Its methods are pure: they read and
// mutate only the envelope they are given and return the events that record the change. On a
// rule violation they return an *Error and leave the envelope unchanged, except where the
// violation is itself a recorded step (a wrong or expired code).
type machine struct {
	now    time.Time
	policy Policy
	newID  func() string
	commit func(salt []byte, field, value string) string
	// codeKey keys the hashes of the codes (see codeHash).
	codeKey []byte
}

func (m *machine) event(e *Envelope, typ, signer string, data map[string]any) Event {
	e.Events++
	return Event{ID: m.newID(), Type: typ, At: m.now.UTC().Truncate(time.Millisecond), Envelope: e.ID, Signer: signer, Data: data}
}

// active checks that signer si may act now.
func (m *machine) active(e *Envelope, si int) *Error {
	if e.Status != StatusSent {
		return conflict(CodeEnvelopeNotActive, "the envelope is %s", e.Status).with("status", string(e.Status))
	}
	if !e.ExpiresAt.IsZero() && !m.now.Before(e.ExpiresAt) {
		return conflict(CodeEnvelopeNotActive, "the envelope expired at %s", e.ExpiresAt.UTC().Format(time.RFC3339)).with("status", string(StatusExpired))
	}
	switch s := e.Signers[si]; s.Status {
	case SignerWaiting:
		return conflict(CodeNotInvited, "this signer has not been invited yet")
	case SignerSigned, SignerRefused:
		return conflict(CodeSignerFinished, "this signer already %s", s.Status).with("status", string(s.Status))
	case SignerSigning:
		return conflict(CodeSigning, "the documents are being signed")
	case SignerLocked:
		return ruleErr(http.StatusLocked, CodeLocked, "too many wrong codes; the sender must invite you again")
	}
	return nil
}

// docComplete reports whether signer s has read every page of document d and filled its
// required fields.
func docComplete(e *Envelope, s *Signer, d int) bool {
	for _, r := range s.Read[d] {
		if !r {
			return false
		}
	}
	for _, f := range e.Documents[d].Fields {
		if f.Signer == s.ID && f.Required && s.Values[f.ID] == "" {
			return false
		}
	}
	return true
}

// current returns the index of the first document signer s has not completed, or
// len(e.Documents) when every document is complete.
func current(e *Envelope, s *Signer) int {
	for d := range e.Documents {
		if !docComplete(e, s, d) {
			return d
		}
	}
	return len(e.Documents)
}

// Accessible reports whether signer si may open document d: every earlier document is complete.
func Accessible(e *Envelope, si, d int) bool {
	return d >= 0 && d < len(e.Documents) && d <= current(e, &e.Signers[si])
}

// ReadyToDecide reports whether signer si has read every page and filled every required field.
func ReadyToDecide(e *Envelope, si int) bool {
	return current(e, &e.Signers[si]) == len(e.Documents)
}

func (m *machine) openDocument(e *Envelope, si, d int) *Error {
	if err := m.active(e, si); err != nil {
		return err
	}
	if d < 0 || d >= len(e.Documents) {
		return notFound(CodeDocumentNotFound, "no document %d", d+1)
	}
	if !Accessible(e, si, d) {
		return conflict(CodeDocumentLocked, "document %d opens once document %d is read and its fields filled", d+1, current(e, &e.Signers[si])+1)
	}
	return nil
}

func (m *machine) linkOpened(e *Envelope, si int, clientIP, userAgent string) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	data := map[string]any{}
	if clientIP != "" {
		data["ip"] = m.commit(e.Salt, "ip", clientIP)
	}
	if userAgent != "" {
		data["user_agent"] = m.commit(e.Salt, "user_agent", userAgent)
	}
	return []Event{m.event(e, EvLinkOpened, e.Signers[si].ID, data)}, nil
}

// readPage records that page p (1-based) of document d was displayed.
func (m *machine) readPage(e *Envelope, si, d, p int) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	if d < 0 || d >= len(e.Documents) {
		return nil, notFound(CodeDocumentNotFound, "no document %d", d+1)
	}
	if s.Consent != nil {
		return nil, conflict(CodeFieldsFrozen, "you already chose to sign")
	}
	if cur := current(e, s); d != cur {
		if d > cur {
			return nil, conflict(CodeDocumentLocked, "document %d opens once document %d is read and its fields filled", d+1, cur+1)
		}
		return nil, conflict(CodeNotCurrentDocument, "document %d is already read; the current document is %d", d+1, cur+1)
	}
	if p < 1 || p > len(e.Documents[d].Pages) {
		return nil, unprocessable(CodePageOutOfRange, "document %d has %d pages, not page %d", d+1, len(e.Documents[d].Pages), p).with("pages", len(e.Documents[d].Pages))
	}
	if s.Read[d][p-1] {
		return nil, nil
	}
	s.Read[d][p-1] = true
	doc := e.Documents[d]
	evs := []Event{m.event(e, EvPageRead, s.ID, map[string]any{"document": doc.ID, "page": p, "digest": doc.Pages[p-1].Digest})}
	if !slices.Contains(s.Read[d], false) {
		evs = append(evs, m.event(e, EvDocumentRead, s.ID, map[string]any{"document": doc.ID, "digest": doc.Prepared}))
	}
	return evs, nil
}

// ValidateValue checks a value against a field's constraints, returning a reason when invalid.
func ValidateValue(f Field, v string) string {
	switch {
	case !utf8.ValidString(v):
		return "the value is not valid UTF-8"
	case f.Required && v == "":
		return "this field is required"
	case f.MaxLength > 0 && utf8.RuneCountInString(v) > f.MaxLength:
		return "the value is longer than " + strconv.Itoa(f.MaxLength) + " characters"
	}
	for _, r := range v {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return "the value contains control characters"
		}
	}
	if f.Pattern != "" && v != "" {
		re, err := regexp.Compile(`^(?:` + f.Pattern + `)$`)
		if err != nil || !re.MatchString(v) {
			return "the value does not match the expected format"
		}
	}
	return ""
}

// setFields records field values. Every value is validated first; one invalid value refuses all.
func (m *machine) setFields(e *Envelope, si int, values map[string]string) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	if s.Consent != nil {
		return nil, conflict(CodeFieldsFrozen, "fields cannot change after you chose to sign")
	}
	type target struct {
		d int
		f Field
	}
	var ids []string
	targets := map[string]target{}
	problems := map[string]string{}
	for id, v := range values {
		ids = append(ids, id)
		d, f, ok := findField(e, id)
		switch {
		case !ok:
			return nil, notFound(CodeFieldNotFound, "no field %q", id).with("field", id)
		case f.Signer != s.ID:
			return nil, ruleErr(http.StatusForbidden, CodeFieldNotYours, "field %q belongs to another signer", id).with("field", id)
		case !Accessible(e, si, d):
			return nil, conflict(CodeDocumentLocked, "field %q is in document %d, which is not open yet", id, d+1).with("field", id)
		}
		if why := ValidateValue(f, v); why != "" {
			problems[id] = why
		}
		targets[id] = target{d, f}
	}
	if len(problems) > 0 {
		return nil, unprocessable(CodeFieldInvalid, "%d field value(s) are invalid", len(problems)).with("fields", problems)
	}
	slices.Sort(ids)
	if s.Values == nil {
		s.Values = map[string]string{}
	}
	var evs []Event
	for _, id := range ids {
		v := values[id]
		if old, ok := s.Values[id]; ok && old == v {
			continue
		}
		t := targets[id]
		s.Values[id] = v
		evs = append(evs, m.event(e, EvFieldCompleted, s.ID, map[string]any{
			"document": e.Documents[t.d].ID, "field": id, "value": m.commit(e.Salt, "field:"+id, v),
		}))
	}
	return evs, nil
}

func findField(e *Envelope, id string) (int, Field, bool) {
	for d, doc := range e.Documents {
		for _, f := range doc.Fields {
			if f.ID == id {
				return d, f, true
			}
		}
	}
	return 0, Field{}, false
}

// refuse records a refusal and declines the envelope.
func (m *machine) refuse(e *Envelope, si int, reason string) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	if !ReadyToDecide(e, si) {
		return nil, conflict(CodeIncomplete, "read every page and fill every required field before refusing").with("current_document", current(e, &e.Signers[si])+1)
	}
	if err := checkReason(reason, m.policy.MaxReasonChars); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	s.Status = SignerRefused
	s.Refusal = reason
	s.CompletedAt = m.now
	s.OTP.Hash = nil
	e.Status = StatusDeclined
	e.ClosedAt = m.now
	return []Event{
		m.event(e, EvSignerRefused, s.ID, map[string]any{"reason": m.commit(e.Salt, "reason", reason)}),
		m.event(e, EvEnvelopeDeclined, "", nil),
	}, nil
}

func checkReason(reason string, max int) *Error {
	trimmed := 0
	for _, r := range reason {
		if r != ' ' && r != '\t' && r != '\n' && r != '\r' {
			trimmed++
		}
	}
	switch {
	case !utf8.ValidString(reason):
		return unprocessable(CodeReasonRequired, "the reason is not valid UTF-8")
	case trimmed == 0:
		return unprocessable(CodeReasonRequired, "a refusal needs a reason")
	case utf8.RuneCountInString(reason) > max:
		return unprocessable(CodeReasonTooLong, "the reason is longer than %d characters", max).with("max", max)
	}
	return nil
}

// consent records the choice to sign; textDigest is the SHA-256 of the consent text shown.
func (m *machine) consent(e *Envelope, si int, textDigest, expected string) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	if !ReadyToDecide(e, si) {
		return nil, conflict(CodeIncomplete, "read every page and fill every required field before signing").with("current_document", current(e, s)+1)
	}
	if s.Consent != nil {
		return nil, conflict(CodeConsentGiven, "you already chose to sign; ask for a new code if needed")
	}
	if subtle.ConstantTimeCompare([]byte(textDigest), []byte(expected)) != 1 {
		return nil, unprocessable(CodeConsentMismatch, "the consent text digest does not match the text of this envelope").with("expected", expected)
	}
	s.Consent = &Consent{At: m.now, TextDigest: textDigest}
	s.Status = SignerConsented
	// The consent covers the documents exactly as they stand now (with any earlier signer's
	// signatures): these are the bytes the code will authorise signing.
	docs := make(map[string]string, len(e.Documents))
	for _, d := range e.Documents {
		docs[d.ID] = d.Current
	}
	return []Event{m.event(e, EvConsentGiven, s.ID, map[string]any{"text": textDigest, "documents": docs})}, nil
}

// canSendCode checks that a code may be sent to signer si now.
func (m *machine) canSendCode(e *Envelope, si int) *Error {
	if err := m.active(e, si); err != nil {
		return err
	}
	s := &e.Signers[si]
	if s.Consent == nil {
		return conflict(CodeConsentRequired, "choose to sign before asking for a code")
	}
	hour := m.now.Add(-time.Hour)
	n := 0
	var last time.Time
	for _, t := range s.OTP.Sends {
		if t.After(hour) {
			n++
		}
		if t.After(last) {
			last = t
		}
	}
	if !last.IsZero() && m.now.Sub(last) < m.policy.ResendGap {
		wait := m.policy.ResendGap - m.now.Sub(last)
		return ruleErr(http.StatusTooManyRequests, CodeResendTooSoon, "wait %d s before asking for a new code", int(wait.Round(time.Second)/time.Second)).with("retry_after", int((wait+time.Second-1)/time.Second))
	}
	if n >= m.policy.SendsPerHour {
		return ruleErr(http.StatusTooManyRequests, CodeSendLimit, "at most %d codes an hour", m.policy.SendsPerHour)
	}
	return nil
}

// codeSent records that a code (by its hash inputs) went to the signer's phone.
func (m *machine) codeSent(e *Envelope, si int, code string) ([]Event, *Error) {
	if err := m.canSendCode(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	var keep []time.Time
	for _, t := range s.OTP.Sends {
		if t.After(m.now.Add(-time.Hour)) {
			keep = append(keep, t)
		}
	}
	s.OTP.Sends = append(keep, m.now)
	s.OTP.IssuedAt = m.now
	s.OTP.ExpiresAt = m.now.Add(m.policy.CodeTTL)
	s.OTP.Hash = codeHash(m.codeKey, e.ID, s.ID, m.now, code)
	s.OTP.HashVersion = otpHashVersion
	return []Event{m.event(e, EvOTPSent, s.ID, map[string]any{"phone": m.commit(e.Salt, "phone", s.Phone)})}, nil
}

var sixDigits = regexp.MustCompile(`^[0-9]{6}$`)

// verifyCode checks a code. A wrong or expired code is recorded (otp.failed, and otp.locked at
// the last allowed failure) and the returned error carries what the signer may do next.
func (m *machine) verifyCode(e *Envelope, si int, code string) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	if s.Consent == nil {
		return nil, conflict(CodeConsentRequired, "choose to sign before entering a code")
	}
	if !sixDigits.MatchString(code) {
		return nil, unprocessable(CodeCodeFormat, "a code is 6 digits")
	}
	if s.OTP.Hash == nil || s.OTP.HashVersion != otpHashVersion {
		// A hash made by an earlier version (unkeyed) is not verified: the signer asks again.
		return nil, conflict(CodeNoCode, "no code is active; ask for a new one")
	}
	if !m.now.Before(s.OTP.ExpiresAt) {
		s.OTP.Hash = nil
		s.OTP.Failures++
		evs := []Event{m.event(e, EvOTPFailed, s.ID, map[string]any{"attempt": s.OTP.Failures})}
		if s.OTP.Failures >= m.policy.MaxFailures {
			s.Status = SignerLocked
			evs = append(evs, m.event(e, EvOTPLocked, s.ID, nil))
			return evs, ruleErr(http.StatusLocked, CodeLocked, "too many failed codes; the sender must invite you again")
		}
		return evs, conflict(CodeCodeExpired, "the code expired; ask for a new one").with("attempts_left", m.policy.MaxFailures-s.OTP.Failures)
	}
	got := codeHash(m.codeKey, e.ID, s.ID, s.OTP.IssuedAt, code)
	if subtle.ConstantTimeCompare(got, s.OTP.Hash) != 1 {
		s.OTP.Failures++
		evs := []Event{m.event(e, EvOTPFailed, s.ID, map[string]any{"attempt": s.OTP.Failures})}
		left := m.policy.MaxFailures - s.OTP.Failures
		if left <= 0 {
			s.Status = SignerLocked
			s.OTP.Hash = nil
			evs = append(evs, m.event(e, EvOTPLocked, s.ID, nil))
			return evs, ruleErr(http.StatusLocked, CodeLocked, "too many wrong codes; the sender must invite you again")
		}
		return evs, unprocessable(CodeCodeWrong, "wrong code, %d attempt(s) left", left).with("attempts_left", left)
	}
	s.OTP.Hash = nil
	s.Status = SignerSigning
	ev := m.event(e, EvOTPVerified, s.ID, nil)
	s.VerifiedEvent = ev.ID
	return []Event{ev}, nil
}

// sent moves a draft envelope to sent.
func (m *machine) send(e *Envelope) ([]Event, *Error) {
	if e.Status != StatusDraft {
		return nil, conflict(CodeEnvelopeNotDraft, "the envelope is %s, not draft", e.Status).with("status", string(e.Status))
	}
	if !m.now.Before(e.ExpiresAt) {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope expired before it was sent")
	}
	e.Status = StatusSent
	e.SentAt = m.now
	return []Event{m.event(e, EvEnvelopeSent, "", nil)}, nil
}

// NextToInvite returns the signers that should be invited now and are not yet.
func NextToInvite(e *Envelope) []int {
	if e.Status != StatusSent {
		return nil
	}
	var out []int
	if e.Order == Parallel {
		for i, s := range e.Signers {
			if s.Status == SignerWaiting {
				out = append(out, i)
			}
		}
		return out
	}
	// Sequential: the lowest order value that still has a signer who has not signed.
	low := 0
	found := false
	for _, s := range e.Signers {
		if s.Status != SignerSigned && (!found || s.Order < low) {
			low, found = s.Order, true
		}
	}
	for i, s := range e.Signers {
		if found && s.Order == low && s.Status == SignerWaiting {
			out = append(out, i)
		}
	}
	return out
}

// invited records an invitation (or a re-invitation that unlocks a locked signer).
func (m *machine) invited(e *Envelope, si int, kind string) ([]Event, *Error) {
	if e.Status != StatusSent {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope is %s", e.Status).with("status", string(e.Status))
	}
	s := &e.Signers[si]
	switch kind {
	case "invitation":
		if s.Status != SignerWaiting {
			return nil, conflict(CodeSignerFinished, "this signer was already invited").with("status", string(s.Status))
		}
		s.InvitedAt = m.now
	case "reinvitation":
		if s.Status != SignerLocked {
			return nil, conflict(CodeNotLocked, "only a locked signer can be invited again").with("status", string(s.Status))
		}
		s.OTP = OTP{Sends: s.OTP.Sends}
		s.Consent = nil
	}
	s.Status = SignerInvited
	return []Event{m.event(e, EvInvitationSent, s.ID, map[string]any{"email": m.commit(e.Salt, "email", s.Email), "name": m.commit(e.Salt, "name", s.Name)})}, nil
}

// reminded records a reminder to a signer who has not finished.
func (m *machine) reminded(e *Envelope, si int) ([]Event, *Error) {
	if err := m.active(e, si); err != nil {
		return nil, err
	}
	s := &e.Signers[si]
	return []Event{m.event(e, EvReminderSent, s.ID, map[string]any{"email": m.commit(e.Salt, "email", s.Email)})}, nil
}

func (m *machine) certificateIssued(e *Envelope, si int, der []byte, serial string, leaf uint64) []Event {
	s := &e.Signers[si]
	s.Certificate = der
	d := sha256.Sum256(der)
	return []Event{m.event(e, EvCertificateIssued, s.ID, map[string]any{
		"serial": serial, "certificate": hex.EncodeToString(d[:]), "otp_leaf": leaf,
	})}
}

func (m *machine) documentSigned(e *Envelope, si, d int, before, after string) []Event {
	s := &e.Signers[si]
	if len(s.Signed) != len(e.Documents) {
		s.Signed = make([]string, len(e.Documents))
	}
	s.Signed[d] = after
	e.Documents[d].Current = after
	return []Event{m.event(e, EvDocumentSigned, s.ID, map[string]any{"document": e.Documents[d].ID, "digest": after})}
}

func (m *machine) signerCompleted(e *Envelope, si int) []Event {
	s := &e.Signers[si]
	s.Status = SignerSigned
	s.CompletedAt = m.now
	return []Event{m.event(e, EvSignerCompleted, s.ID, nil)}
}

// AllSigned reports whether every signer has signed.
func AllSigned(e *Envelope) bool {
	for _, s := range e.Signers {
		if s.Status != SignerSigned {
			return false
		}
	}
	return true
}

func (m *machine) completed(e *Envelope, finals []string) ([]Event, *Error) {
	if e.Status != StatusSent || !AllSigned(e) {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope is %s", e.Status)
	}
	for i := range e.Documents {
		e.Documents[i].Current = finals[i]
	}
	e.Status = StatusCompleted
	e.ClosedAt = m.now
	e.Finalized = true
	return []Event{m.event(e, EvEnvelopeCompleted, "", nil)}, nil
}

func (m *machine) expire(e *Envelope) ([]Event, *Error) {
	if e.Status.Terminal() {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope is %s", e.Status).with("status", string(e.Status))
	}
	if m.now.Before(e.ExpiresAt) {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope does not expire before %s", e.ExpiresAt.UTC().Format(time.RFC3339))
	}
	for _, s := range e.Signers {
		if s.Status == SignerSigning {
			return nil, conflict(CodeSigning, "a signer is being signed for")
		}
	}
	e.Status = StatusExpired
	e.ClosedAt = m.now
	return []Event{m.event(e, EvEnvelopeExpired, "", nil)}, nil
}

func (m *machine) void(e *Envelope, reason string) ([]Event, *Error) {
	if e.Status.Terminal() {
		return nil, conflict(CodeEnvelopeNotActive, "the envelope is %s", e.Status).with("status", string(e.Status))
	}
	for _, s := range e.Signers {
		if s.Status == SignerSigning {
			return nil, conflict(CodeSigning, "a signer's documents are being signed; void after it finishes")
		}
	}
	if err := checkReason(reason, m.policy.MaxReasonChars); err != nil {
		return nil, err
	}
	e.Status = StatusVoided
	e.ClosedAt = m.now
	e.Reason = reason
	return []Event{m.event(e, EvEnvelopeVoided, "", map[string]any{"reason": m.commit(e.Salt, "void_reason", reason)})}, nil
}
