package ceremony

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	netmail "net/mail"

	mail "github.com/wneessen/go-mail"
)

// SMTPConfig says how to reach the mail server.
type SMTPConfig struct {
	Host string
	Port int
	// TLS is "starttls" (mandatory STARTTLS, the default), "tls" (implicit TLS, usually port
	// 465) or "none" (plain text, for a local relay only).
	TLS      string
	Username string // enables SMTP AUTH (PLAIN or LOGIN, whichever the server offers) when set
	Password string
	From     string // "Paraphe <signatures@example.org>"
	// TLSConfig overrides the TLS settings (tests use it to trust their own server).
	TLSConfig *tls.Config
}

// SMTPMailer sends emails with wneessen/go-mail.
type SMTPMailer struct {
	cfg SMTPConfig
}

// NewSMTPMailer checks cfg and returns a mailer.
func NewSMTPMailer(cfg SMTPConfig) (*SMTPMailer, error) {
	if cfg.Host == "" {
		return nil, fmt.Errorf("smtp: no host")
	}
	if cfg.From == "" {
		return nil, fmt.Errorf("smtp: no from address")
	}
	switch cfg.TLS {
	case "", "starttls", "tls", "none":
	default:
		return nil, fmt.Errorf("smtp: tls must be starttls, tls or none, not %q", cfg.TLS)
	}
	return &SMTPMailer{cfg: cfg}, nil
}

func (s *SMTPMailer) client() (*mail.Client, error) {
	opts := []mail.Option{}
	if s.cfg.Port != 0 {
		opts = append(opts, mail.WithPort(s.cfg.Port))
	}
	switch s.cfg.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if s.cfg.TLSConfig != nil {
		opts = append(opts, mail.WithTLSConfig(s.cfg.TLSConfig))
	}
	if s.cfg.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.cfg.Username), mail.WithPassword(s.cfg.Password))
	}
	return mail.NewClient(s.cfg.Host, opts...)
}

// SendEmail implements Notifier.
func (s *SMTPMailer) SendEmail(ctx context.Context, m Email) error {
	msg := mail.NewMsg()
	if err := msg.From(s.cfg.From); err != nil {
		return fmt.Errorf("smtp: from address: %w", err)
	}
	var err error
	if m.ToName != "" {
		// The name is set on a parsed address, which net/mail quotes or encodes when written:
		// AddToFormat would paste it between quotes unescaped, and a name with a quote or an
		// angle bracket would make the address unparsable (no invitation) or change it.
		var a *netmail.Address
		if a, err = netmail.ParseAddress(m.To); err == nil {
			a.Name = m.ToName
			msg.AddToMailAddress(a)
		}
	} else {
		err = msg.To(m.To)
	}
	if err != nil {
		return fmt.Errorf("smtp: recipient address: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(mail.TypeTextPlain, m.Text)
	if m.HTML != "" {
		msg.AddAlternativeString(mail.TypeTextHTML, m.HTML)
	}
	for _, a := range m.Embedded {
		if err := msg.EmbedReader(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType)),
			mail.WithFileContentID("<"+a.ContentID+">")); err != nil {
			return fmt.Errorf("smtp: embed %s: %w", a.Name, err)
		}
	}
	for _, a := range m.Attachments {
		if err := msg.AttachReader(a.Name, bytes.NewReader(a.Data), mail.WithFileContentType(mail.ContentType(a.ContentType))); err != nil {
			return fmt.Errorf("smtp: attach %s: %w", a.Name, err)
		}
	}
	c, err := s.client()
	if err != nil {
		return fmt.Errorf("smtp: %w", err)
	}
	if err := c.DialAndSendWithContext(ctx, msg); err != nil {
		return fmt.Errorf("smtp: send: %w", err)
	}
	return nil
}
