package ceremony

import (
	"context"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// SignerRef identifies the signer behind a session.
type SignerRef struct {
	Envelope string
	Signer   string
	CSRF     string
}

// Session is what exchanging a link token yields: a secret for the session cookie and the
// CSRF token that every state change must carry.
type Session struct {
	Secret  string
	CSRF    string
	Expires time.Time
	Ref     SignerRef
}

// errBadLink is the answer for any unknown, tampered or revoked link or session: it does not
// say which.
func errBadLink() *Error {
	return ruleErr(http.StatusUnauthorized, "link_invalid", "this link or session is not valid; use the latest link you received by email")
}

// OpenLink exchanges a link token for a session. While the envelope is active this is the
// link.opened step; after it finished (completed, declined, expired) the session only shows the
// outcome; a voided envelope's links no longer work.
func (s *Service) OpenLink(ctx context.Context, token, clientIP, userAgent string) (*Session, []Event, error) {
	if len(token) != 43 {
		return nil, nil, errBadLink()
	}
	var tr tokenRecord
	err := s.opt.DB.View(func(txn *badger.Txn) error { return getJSON(txn, kToken+hashSecret(token), &tr) })
	if isNotFound(err) {
		return nil, nil, errBadLink()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ceremony: look up link: %w", err)
	}
	e, err := s.Envelope(ctx, tr.Envelope)
	if err != nil {
		return nil, nil, err
	}
	si := e.signer(tr.Signer)
	if si < 0 || e.Status == StatusVoided || e.Status == StatusDraft {
		return nil, nil, errBadLink()
	}
	sess := &Session{Secret: randomSecret(), CSRF: randomSecret(), Expires: s.now().Add(s.opt.SessionTTL).UTC(),
		Ref: SignerRef{Envelope: tr.Envelope, Signer: tr.Signer}}
	sess.Ref.CSRF = sess.CSRF
	skey, srec := kSession+hashSecret(sess.Secret), sessionRecord{Envelope: tr.Envelope, Signer: tr.Signer, CSRF: sess.CSRF, Expires: sess.Expires}
	var evs []Event
	if e.Status == StatusSent && e.Signers[si].Status != SignerWaiting {
		_, evs, err = s.step(ctx, e.ID, func(e *Envelope, m *machine, w *writes) ([]Event, error) {
			evs, rerr := m.linkOpened(e, si, clientIP, userAgent)
			if rerr != nil && rerr.Code != CodeNotInvited {
				return nil, nil // finished or locked signers may still look at their state
			}
			w.put(skey, srec) // the session is stored with the step, in the same write
			return evs, asErr(rerr)
		})
		if err != nil {
			return nil, nil, err
		}
	}
	if len(evs) == 0 {
		err = s.state.write(func(txn *badger.Txn) error { return setJSON(txn, skey, srec) })
		if err != nil {
			return nil, nil, fmt.Errorf("ceremony: store session: %w", err)
		}
	}
	return sess, evs, nil
}

// SessionFor returns the signer behind a session secret. Expired sessions and sessions of voided
// envelopes are refused.
func (s *Service) SessionFor(ctx context.Context, secret string) (*SignerRef, error) {
	if len(secret) != 43 {
		return nil, errBadLink()
	}
	var sr sessionRecord
	err := s.opt.DB.View(func(txn *badger.Txn) error { return getJSON(txn, kSession+hashSecret(secret), &sr) })
	if isNotFound(err) {
		return nil, errBadLink()
	}
	if err != nil {
		return nil, fmt.Errorf("ceremony: look up session: %w", err)
	}
	if !s.now().Before(sr.Expires) {
		return nil, errBadLink()
	}
	e, err := s.Envelope(ctx, sr.Envelope)
	if err != nil || e.Status == StatusVoided {
		return nil, errBadLink()
	}
	return &SignerRef{Envelope: sr.Envelope, Signer: sr.Signer, CSRF: sr.CSRF}, nil
}

// CheckCSRF compares a request's CSRF token with the session's, in constant time.
func (r *SignerRef) CheckCSRF(token string) error {
	if token == "" || subtle.ConstantTimeCompare([]byte(token), []byte(r.CSRF)) != 1 {
		return ruleErr(http.StatusForbidden, "csrf_invalid", "missing or wrong CSRF token")
	}
	return nil
}

// SignerView is everything a signer's page shows.
type SignerView struct {
	Envelope struct {
		ID           string    `json:"id"`
		Title        string    `json:"title"`
		Message      string    `json:"message,omitempty"`
		Status       Status    `json:"status"`
		ExpiresAt    time.Time `json:"expires_at"`
		Organization string    `json:"organization"`
		// Logo says that the organisation's logo is served to the signer (GET /s/api/logo).
		Logo bool `json:"logo,omitempty"`
	} `json:"envelope"`
	Signer struct {
		ID     string       `json:"id"`
		Name   string       `json:"name"`
		Locale string       `json:"locale"`
		Status SignerStatus `json:"status"`
		Phone  string       `json:"phone"` // masked
	} `json:"signer"`
	Documents []DocumentView `json:"documents"`
	// Current is the 1-based number of the document to read now, 0 when everything is read.
	Current       int          `json:"current"`
	ReadyToDecide bool         `json:"ready_to_decide"`
	Consent       *ConsentView `json:"consent,omitempty"`
	Code          *CodeView    `json:"code,omitempty"`
}

// DocumentView is a document as one signer sees it.
type DocumentView struct {
	Number     int         `json:"number"`
	ID         string      `json:"id"`
	Name       string      `json:"name"`
	Pages      int         `json:"pages"`
	PagesRead  []int       `json:"pages_read"`
	Accessible bool        `json:"accessible"`
	Complete   bool        `json:"complete"`
	Signed     bool        `json:"signed"` // a signed version can be downloaded
	Fields     []FieldView `json:"fields"`
}

// FieldView is one of the signer's fields with its current value.
type FieldView struct {
	Field
	Value string `json:"value"`
	Valid bool   `json:"valid"`
}

// ConsentView is the consent text and its digest, to send back when choosing to sign.
type ConsentView struct {
	Text   string `json:"text"`
	Digest string `json:"digest"`
	Given  bool   `json:"given"`
}

// CodeView describes the signer's one-time code state.
type CodeView struct {
	Active       bool      `json:"active"`
	ExpiresAt    time.Time `json:"expires_at,omitzero"`
	AttemptsLeft int       `json:"attempts_left"`
	ResendAfter  time.Time `json:"resend_after,omitzero"`
}

func maskPhone(p string) string {
	if len(p) < 6 {
		return "••••"
	}
	return p[:3] + strings.Repeat("•", len(p)-5) + p[len(p)-2:]
}

func (s *Service) load(ctx context.Context, ref *SignerRef) (*Envelope, int, error) {
	e, err := s.Envelope(ctx, ref.Envelope)
	if err != nil {
		return nil, 0, err
	}
	si := e.signer(ref.Signer)
	if si < 0 {
		return nil, 0, errBadLink()
	}
	return e, si, nil
}

// ConsentDigest returns the consent text shown to a signer and its SHA-256 (hex).
func ConsentDigest(e *Envelope, locale string) (string, string) {
	t := consentText(e, locale)
	return t, Digest([]byte(t))
}

// State returns what the signer sees.
func (s *Service) State(ctx context.Context, ref *SignerRef) (*SignerView, error) {
	e, si, err := s.load(ctx, ref)
	if err != nil {
		return nil, err
	}
	sg := &e.Signers[si]
	v := &SignerView{}
	v.Envelope.ID, v.Envelope.Title, v.Envelope.Message, v.Envelope.Status, v.Envelope.ExpiresAt, v.Envelope.Organization =
		e.ID, e.Title, e.Message, e.Status, e.ExpiresAt, s.organization(e)
	v.Envelope.Logo = e.Brand != nil && e.Brand.Logo != "" && s.opt.Brands != nil
	v.Signer.ID, v.Signer.Name, v.Signer.Locale, v.Signer.Status, v.Signer.Phone = sg.ID, sg.Name, sg.Locale, sg.Status, maskPhone(sg.Phone)
	cur := current(e, sg)
	for d, doc := range e.Documents {
		dv := DocumentView{Number: d + 1, ID: doc.ID, Name: doc.Name, Pages: len(doc.Pages), PagesRead: []int{},
			Accessible: d <= cur, Complete: docComplete(e, sg, d), Signed: doc.Current != doc.Prepared, Fields: []FieldView{}}
		for p, r := range sg.Read[d] {
			if r {
				dv.PagesRead = append(dv.PagesRead, p+1)
			}
		}
		for _, f := range doc.Fields {
			if f.Signer == sg.ID {
				val := sg.Values[f.ID]
				dv.Fields = append(dv.Fields, FieldView{Field: f, Value: val, Valid: ValidateValue(f, val) == ""})
			}
		}
		v.Documents = append(v.Documents, dv)
	}
	if cur < len(e.Documents) {
		v.Current = cur + 1
	}
	v.ReadyToDecide = cur == len(e.Documents)
	if v.ReadyToDecide {
		text, digest := ConsentDigest(e, sg.Locale)
		v.Consent = &ConsentView{Text: text, Digest: digest, Given: sg.Consent != nil}
	}
	if sg.Consent != nil {
		cv := &CodeView{Active: sg.OTP.Hash != nil && s.now().Before(sg.OTP.ExpiresAt), AttemptsLeft: max(0, s.opt.Policy.MaxFailures-sg.OTP.Failures)}
		if cv.Active {
			cv.ExpiresAt = sg.OTP.ExpiresAt
		}
		if n := len(sg.OTP.Sends); n > 0 {
			cv.ResendAfter = sg.OTP.Sends[n-1].Add(s.opt.Policy.ResendGap)
		}
		v.Code = cv
	}
	return v, nil
}

// DocumentPDF returns the PDF of document number n (1-based) if the signer may open it: the
// latest version, with the signatures so far.
func (s *Service) DocumentPDF(ctx context.Context, ref *SignerRef, n int) (*Document, []byte, error) {
	e, si, err := s.load(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	if e.Status.Terminal() && n >= 1 && n <= len(e.Documents) && e.Status != StatusVoided {
		// Finished envelopes: every party may download every document.
	} else if rerr := s.machine().openDocument(e, si, n-1); rerr != nil {
		if !(rerr.Code == CodeSignerFinished || rerr.Code == CodeSigning) || n < 1 || n > len(e.Documents) {
			return nil, nil, rerr
		}
	}
	d := e.Documents[n-1]
	b, err := s.docs.Get(d.Current)
	if err != nil {
		return nil, nil, fmt.Errorf("ceremony: %w", err)
	}
	return &d, b, nil
}

func (s *Service) signerStep(ctx context.Context, ref *SignerRef, fn func(e *Envelope, si int, m *machine) ([]Event, *Error)) (*Envelope, []Event, error) {
	return s.step(ctx, ref.Envelope, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		si := e.signer(ref.Signer)
		if si < 0 {
			return nil, errBadLink()
		}
		evs, rerr := fn(e, si, m)
		return evs, asErr(rerr)
	})
}

// ReadPage records that page (1-based) of document n (1-based) was displayed (page.read, and
// document.read with the last page).
func (s *Service) ReadPage(ctx context.Context, ref *SignerRef, n, page int) ([]Event, error) {
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		return m.readPage(e, si, n-1, page)
	})
	return evs, err
}

// SetFields records field values (field.completed each), all or nothing.
func (s *Service) SetFields(ctx context.Context, ref *SignerRef, values map[string]string) ([]Event, error) {
	if len(values) == 0 {
		return nil, unprocessable(CodeFieldInvalid, "no field values given")
	}
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		return m.setFields(e, si, values)
	})
	return evs, err
}

// Refuse records the signer's refusal with a reason and declines the envelope.
func (s *Service) Refuse(ctx context.Context, ref *SignerRef, reason string) ([]Event, error) {
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		return m.refuse(e, si, reason)
	})
	return evs, err
}

// ChooseSign records the signer's consent (consent.given with the digest of the consent text
// they were shown, which they send back) and sends the first code by SMS.
func (s *Service) ChooseSign(ctx context.Context, ref *SignerRef, consentDigest string) ([]Event, error) {
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		_, want := ConsentDigest(e, e.Signers[si].Locale)
		return m.consent(e, si, consentDigest, want)
	})
	if err != nil {
		return nil, err
	}
	more, err := s.SendCode(ctx, ref)
	return append(evs, more...), err
}

// SendCode sends a new code (otp.sent), within the resend limits. The previous code stops
// working.
func (s *Service) SendCode(ctx context.Context, ref *SignerRef) ([]Event, error) {
	l, release := s.lock(ref.Envelope)
	defer release()
	l.invite.Lock() // one send at a time per envelope, so limits hold under concurrency
	defer l.invite.Unlock()
	e, si, err := s.load(ctx, ref)
	if err != nil {
		return nil, err
	}
	if rerr := s.machine().canSendCode(e, si); rerr != nil {
		return nil, rerr
	}
	code, err := newCode()
	if err != nil {
		return nil, err
	}
	sg := e.Signers[si]
	text, err := renderSMS(sg.Locale, mailData{Code: code, Minutes: int(s.opt.Policy.CodeTTL / time.Minute)})
	if err != nil {
		return nil, err
	}
	if err := s.deliver(ctx, e.ID, sg.ID, "code", "sms", sg.Phone, func(ctx context.Context) error {
		return s.opt.Notifier.SendSMS(ctx, SMS{To: sg.Phone, Text: text})
	}); err != nil {
		return nil, err
	}
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		return m.codeSent(e, si, code)
	})
	return evs, err
}

// VerifyCode checks the code. When it is right (otp.verified), the signer's certificate is
// issued and every document is signed before VerifyCode returns; a failure there leaves the
// signer in "signing", which Resume retries.
func (s *Service) VerifyCode(ctx context.Context, ref *SignerRef, code string) ([]Event, error) {
	_, evs, err := s.signerStep(ctx, ref, func(e *Envelope, si int, m *machine) ([]Event, *Error) {
		return m.verifyCode(e, si, code)
	})
	if err != nil {
		return evs, err
	}
	ctx = context.WithoutCancel(ctx)
	if err := s.signAll(ctx, ref.Envelope, ref.Signer); err != nil {
		s.log.Error("ceremony: signing failed; will retry", "envelope", ref.Envelope, "signer", ref.Signer, "err", err)
		return evs, ruleErr(http.StatusServiceUnavailable, "signing_delayed", "your code is verified; signing failed for now and will be retried")
	}
	return evs, nil
}
