package ceremony_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
)

// tlsSink is a go-smtp server listening with implicit TLS (as on port 465): the TLS handshake
// comes first, before any SMTP greeting. It requires AUTH PLAIN and records, for each message,
// whether the session it arrived on was over TLS.
type tlsSink struct {
	host, user, pass string
	port             int
	client           *tls.Config
	mu               sync.Mutex
	mails            []tlsMail
}

type tlsMail struct {
	from  string
	to    []string
	raw   string
	tls   bool
	authd bool
}

func newTLSSink(t *testing.T) *tlsSink {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"}, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(time.Hour), IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(c)
	s := &tlsSink{host: "127.0.0.1", user: "paraphe", pass: "sink-password", client: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &tlsSession{sink: s, conn: c}, nil }))
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: k}}}
	// Short timeouts: a client that waits for a plain-text greeting is cut off in 2 s.
	srv.ReadTimeout, srv.WriteTimeout = 2*time.Second, 2*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	l, err := tls.Listen("tcp", "127.0.0.1:0", srv.TLSConfig)
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

func (s *tlsSink) received() []tlsMail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]tlsMail(nil), s.mails...)
}

type tlsSession struct {
	sink  *tlsSink
	conn  *smtp.Conn
	authd bool
	from  string
	to    []string
}

func (s *tlsSession) AuthMechanisms() []string { return []string{sasl.Plain} }
func (s *tlsSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != s.sink.user || pass != s.sink.pass {
			return errors.New("invalid credentials")
		}
		s.authd = true
		return nil
	}), nil
}
func (s *tlsSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authd {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *tlsSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *tlsSession) Reset()                                    { s.from, s.to = "", nil }
func (s *tlsSession) Logout() error                             { return nil }
func (s *tlsSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	s.sink.mails = append(s.sink.mails, tlsMail{from: s.from, to: s.to, raw: string(b), tls: isTLS, authd: s.authd})
	return nil
}

// TestSMTPImplicitTLS sends through a server that speaks TLS from the first byte (smtp
// security "tls", usually port 465), with AUTH inside the TLS session. A mailer set to
// STARTTLS cannot talk to it, and the implicit-TLS mailer refuses a server it does not trust.
func TestSMTPImplicitTLS(t *testing.T) {
	sink := newTLSSink(t)
	cfg := ceremony.SMTPConfig{Host: sink.host, Port: sink.port, TLS: "tls", Username: sink.user, Password: sink.pass,
		From: "Paraphe <signatures@example.org>", TLSConfig: sink.client}
	m, err := ceremony.NewSMTPMailer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	email := ceremony.Email{To: "alice@example.org", ToName: "Alice Martin", Subject: "Compromis de vente à signer", Text: "Bonjour Alice,\nvoici le lien.",
		HTML: "<p>Bonjour Alice,</p>", Attachments: []ceremony.Attachment{{Name: "compromis.pdf", ContentType: "application/pdf", Data: ceremonytest.MinimalPDF(1, "x")}}}
	if err := m.SendEmail(ctx, email); err != nil {
		t.Fatalf("implicit TLS send: %v", err)
	}
	got := sink.received()
	if len(got) != 1 {
		t.Fatalf("%d messages received, want 1", len(got))
	}
	if !got[0].tls || !got[0].authd {
		t.Fatalf("message received with tls=%v auth=%v", got[0].tls, got[0].authd)
	}
	if got[0].from != "signatures@example.org" || len(got[0].to) != 1 || got[0].to[0] != "alice@example.org" {
		t.Fatalf("envelope from %q to %v", got[0].from, got[0].to)
	}
	parsed, err := ceremonytest.Mail{Raw: []byte(got[0].raw)}.Parse()
	if err != nil {
		t.Fatal(err)
	}
	if parsed.Subject != email.Subject || !strings.Contains(parsed.Text, "voici le lien") || len(parsed.Attachments["compromis.pdf"]) == 0 {
		t.Fatalf("received subject %q, text %q, attachments %d", parsed.Subject, parsed.Text, len(parsed.Attachments))
	}

	// STARTTLS expects a plain-text greeting: against an implicit-TLS server it fails.
	starttls := cfg
	starttls.TLS = "starttls"
	if m, err := ceremony.NewSMTPMailer(starttls); err != nil {
		t.Fatal(err)
	} else if err := sendWithin(m, email, 5*time.Second); err == nil {
		t.Fatal("a STARTTLS mailer sent through an implicit-TLS server")
	}
	// The server's certificate must be trusted: no fallback to an unverified connection.
	untrusted := cfg
	untrusted.TLSConfig = &tls.Config{ServerName: "127.0.0.1", RootCAs: x509.NewCertPool()}
	if m, err := ceremony.NewSMTPMailer(untrusted); err != nil {
		t.Fatal(err)
	} else if err := sendWithin(m, email, 5*time.Second); err == nil {
		t.Fatal("sent to a server whose certificate is not trusted")
	}
	// Implicit TLS against a server that greets in plain text (STARTTLS on offer) fails too:
	// "tls" never downgrades.
	plain := ceremonytest.NewSMTPSink(t)
	toPlain := cfg
	toPlain.Port, toPlain.Username, toPlain.Password, toPlain.TLSConfig = plain.Port, plain.User, plain.Password, plain.ClientTLS
	if m, err := ceremony.NewSMTPMailer(toPlain); err != nil {
		t.Fatal(err)
	} else if err := sendWithin(m, email, 5*time.Second); err == nil {
		t.Fatal("an implicit-TLS mailer sent through a plain-text server")
	}
	if n := len(plain.Mails()); n != 0 {
		t.Fatalf("the plain-text server received %d messages", n)
	}
	if n := len(sink.received()); n != 1 {
		t.Fatalf("the TLS server received %d messages, want 1", n)
	}
}

func sendWithin(m *ceremony.SMTPMailer, e ceremony.Email, d time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return m.SendEmail(ctx, e)
}
