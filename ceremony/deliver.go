package ceremony

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DeliveryRecord is the outcome of one notification (after its retries), kept per envelope so
// that sending failures are visible to the sender.
type DeliveryRecord struct {
	ID       string    `json:"id"`
	Signer   string    `json:"signer"`
	Kind     string    `json:"kind"`    // invitation, reinvitation, reminder, code, completed
	Channel  string    `json:"channel"` // email or sms
	At       time.Time `json:"at"`
	Attempts int       `json:"attempts"`
	OK       bool      `json:"ok"`
	Error    string    `json:"error,omitempty"`
}

// deliver sends with retries and records the outcome. The log never holds the message (a link
// or a code) nor the recipient: the recipient is masked in the error before it is logged.
func (s *Service) deliver(ctx context.Context, env, signer, kind, channel, recipient string, send func(context.Context) error) error {
	var err error
	attempts := 0
	for i := 0; i <= len(s.opt.RetryDelays); i++ {
		if i > 0 {
			select {
			case <-time.After(s.opt.RetryDelays[i-1]):
			case <-ctx.Done():
				err = ctx.Err()
			}
			if ctx.Err() != nil {
				break
			}
		}
		attempts++
		if err = send(ctx); err == nil {
			break
		}
	}
	rec := DeliveryRecord{ID: randomID(), Signer: signer, Kind: kind, Channel: channel, At: s.now().UTC(), Attempts: attempts, OK: err == nil}
	if err != nil {
		rec.Error = err.Error()
		msg := err.Error()
		if recipient != "" {
			msg = strings.ReplaceAll(msg, recipient, "<recipient>")
		}
		s.log.Warn("ceremony: delivery failed", "envelope", env, "signer", signer, "kind", kind, "channel", channel, "attempts", attempts, "err", msg)
	}
	if werr := s.state.write(func(txn *badger.Txn) error {
		return setJSON(txn, fmt.Sprintf("%s%s/%020d-%s", kDelivery, env, time.Now().UnixNano(), rec.ID[:8]), rec) // wall-clock order
	}); werr != nil {
		s.log.Error("ceremony: record delivery", "envelope", env, "err", werr)
	}
	if err != nil {
		return ruleErr(502, CodeDeliveryFailed, "the %s could not be delivered by %s after %d attempt(s)", kind, channel, attempts)
	}
	return nil
}

// inviteDue invites every signer whose turn has come and who was not invited yet.
func (s *Service) inviteDue(ctx context.Context, id string) ([]Event, error) {
	l, release := s.lock(id)
	defer release()
	l.invite.Lock()
	defer l.invite.Unlock()
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return nil, err
	}
	var all []Event
	var firstErr error
	for _, si := range NextToInvite(e) {
		evs, err := s.notifyLink(ctx, id, e.Signers[si].ID, "invitation")
		all = append(all, evs...)
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	return all, firstErr
}

// Remind sends a signer who has not finished a reminder with a fresh link (reminder.sent).
func (s *Service) Remind(ctx context.Context, id, signerID string) ([]Event, error) {
	return s.notifyLink(ctx, id, signerID, "reminder")
}

// Reinvite unlocks a signer locked after too many wrong codes and sends a fresh link
// (invitation.sent with kind reinvitation). The signer chooses to sign again.
func (s *Service) Reinvite(ctx context.Context, id, signerID string) ([]Event, error) {
	return s.notifyLink(ctx, id, signerID, "reinvitation")
}

// notifyLink mints a link token, emails it, then records the step. The token is stored (hashed)
// before the email leaves and removed again if the email or the step fails.
func (s *Service) notifyLink(ctx context.Context, id, signerID, kind string) ([]Event, error) {
	e, err := s.Envelope(ctx, id)
	if err != nil {
		return nil, err
	}
	si, err := signerIndex(e, signerID)
	if err != nil {
		return nil, err
	}
	// Check the rule on a copy before sending anything.
	probe := *e
	probe.Signers = append([]Signer(nil), e.Signers...)
	m := s.machine()
	var rerr *Error
	switch kind {
	case "reminder":
		_, rerr = m.reminded(&probe, si)
	default:
		_, rerr = m.invited(&probe, si, kind)
	}
	if rerr != nil {
		return nil, rerr
	}
	sg := e.Signers[si]
	token := randomSecret()
	tkey := kToken + hashSecret(token)
	if err := s.state.write(func(txn *badger.Txn) error {
		return setJSON(txn, tkey, tokenRecord{Envelope: id, Signer: signerID, Created: s.now().UTC()})
	}); err != nil {
		return nil, fmt.Errorf("ceremony: store link token: %w", err)
	}
	drop := func() {
		_ = s.state.write(func(txn *badger.Txn) error { return txn.Delete([]byte(tkey)) })
	}
	tmpl := kind
	if kind == "reinvitation" {
		tmpl = "invitation"
	}
	logo := s.emailLogo(ctx, e)
	subject, text, html, err := renderEmail(tmpl, sg.Locale, mailData{Organization: s.organization(e), Logo: logo != nil, SignerName: sg.Name,
		Title: e.Title, Message: e.Message, Link: s.opt.BaseURL + "/s/" + token, Expires: formatDate(e.ExpiresAt, sg.Locale)})
	if err != nil {
		drop()
		return nil, fmt.Errorf("ceremony: %w", err)
	}
	err = s.deliver(ctx, id, signerID, kind, "email", sg.Email, func(ctx context.Context) error {
		return s.opt.Notifier.SendEmail(ctx, Email{To: sg.Email, ToName: sg.Name, Subject: subject, Text: text, HTML: html, Embedded: embedded(logo)})
	})
	if err != nil {
		drop()
		return nil, err
	}
	_, evs, err := s.step(ctx, id, func(e *Envelope, m *machine, _ *writes) ([]Event, error) {
		if kind == "reminder" {
			evs, rerr := m.reminded(e, si)
			return evs, asErr(rerr)
		}
		evs, rerr := m.invited(e, si, kind)
		return evs, asErr(rerr)
	})
	if err != nil {
		drop()
		return nil, err
	}
	return evs, nil
}

// sendCompleted emails the finalized documents to every signer.
func (s *Service) sendCompleted(ctx context.Context, e *Envelope) {
	var atts []Attachment
	for _, d := range e.Documents {
		b, err := s.docs.Get(d.Current)
		if err != nil {
			s.log.Error("ceremony: read signed document for the completion email", "envelope", e.ID, "document", d.ID, "err", err)
			return
		}
		name := d.Name
		if len(name) < 4 || name[len(name)-4:] != ".pdf" {
			name += ".pdf"
		}
		atts = append(atts, Attachment{Name: name, ContentType: "application/pdf", Data: b})
	}
	logo := s.emailLogo(ctx, e)
	for _, sg := range e.Signers {
		subject, text, html, err := renderEmail("completed", sg.Locale, mailData{Organization: s.organization(e), Logo: logo != nil,
			SignerName: sg.Name, Title: e.Title})
		if err != nil {
			s.log.Error("ceremony: completion email", "envelope", e.ID, "err", err)
			return
		}
		_ = s.deliver(ctx, e.ID, sg.ID, "completed", "email", sg.Email, func(ctx context.Context) error {
			return s.opt.Notifier.SendEmail(ctx, Email{To: sg.Email, ToName: sg.Name, Subject: subject, Text: text, HTML: html, Attachments: atts,
				Embedded: embedded(logo)})
		})
	}
}

// embedded lists the inline parts of an email: the logo, when there is one.
func embedded(logo *Attachment) []Attachment {
	if logo == nil {
		return nil
	}
	return []Attachment{*logo}
}
