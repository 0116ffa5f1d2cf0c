package ceremonytest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/paraphe/paraphe/ceremony"
)

// Mail is one message received by the SMTP sink.
type Mail struct {
	From string
	To   []string
	Raw  []byte
}

// SMTPSink is a real SMTP server (go-smtp) that keeps what it receives. It offers STARTTLS
// with a self-signed certificate (trusted by ClientTLS) and AUTH PLAIN with User/Password.
type SMTPSink struct {
	Host      string
	Port      int
	User      string
	Password  string
	ClientTLS *tls.Config
	// CertPEM is the sink's self-signed certificate, for clients configured with a CA file.
	CertPEM []byte
	mu      sync.Mutex
	mails   []Mail
	fail    int // refuse the next fail messages
}

// NewSMTPSink starts a sink on 127.0.0.1, stopped when the test ends.
func NewSMTPSink(t testing.TB) *SMTPSink {
	t.Helper()
	cert, pool := selfSigned(t)
	s := &SMTPSink{User: "paraphe", Password: "sink-password", ClientTLS: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]})}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &smtpSession{sink: s}, nil }))
	srv.Domain = "127.0.0.1"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 64 << 20
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.Host = "127.0.0.1"
	s.Port = l.Addr().(*net.TCPAddr).Port
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return s
}

// FailNext makes the sink refuse the next n messages with a temporary error.
func (s *SMTPSink) FailNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// Mails returns the messages received so far.
func (s *SMTPSink) Mails() []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Mail(nil), s.mails...)
}

type smtpSession struct {
	sink   *SMTPSink
	authed bool
	from   string
	to     []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, user, pass string) error {
		if user != s.sink.User || pass != s.sink.Password {
			return errors.New("invalid credentials")
		}
		s.authed = true
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !s.authed {
		return smtp.ErrAuthRequired
	}
	s.from = from
	return nil
}
func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error { s.to = append(s.to, to); return nil }
func (s *smtpSession) Reset()                                    { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error                             { return nil }
func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.sink.mu.Lock()
	defer s.sink.mu.Unlock()
	if s.sink.fail > 0 {
		s.sink.fail--
		return &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try again later"}
	}
	s.sink.mails = append(s.sink.mails, Mail{From: s.from, To: s.to, Raw: b})
	return nil
}

func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}, pool
}

// Parsed is a received email, decoded.
type Parsed struct {
	Header      mail.Header
	Subject     string
	Text, HTML  string
	Attachments map[string][]byte
}

// Parse decodes a message: headers, text and HTML bodies, attachments.
func (m Mail) Parse() (*Parsed, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(m.Raw))
	if err != nil {
		return nil, err
	}
	p := &Parsed{Header: msg.Header, Attachments: map[string][]byte{}}
	p.Subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	err = walk(p, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Header.Get("Content-Disposition"), msg.Body)
	return p, err
}

func walk(p *Parsed, ctype, cte, disp string, body io.Reader) error {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			part, err := mr.NextRawPart()
			if err == io.EOF {
				return nil
			}
			if err != nil {
				return err
			}
			if err := walk(p, part.Header.Get("Content-Type"), part.Header.Get("Content-Transfer-Encoding"), part.Header.Get("Content-Disposition"), part); err != nil {
				return err
			}
		}
	}
	var r io.Reader = body
	switch strings.ToLower(cte) {
	case "quoted-printable":
		r = quotedprintable.NewReader(body)
	case "base64":
		r = newBase64Reader(body)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if d, dp, err := mime.ParseMediaType(disp); err == nil && d == "attachment" {
		p.Attachments[dp["filename"]] = b
		return nil
	}
	switch mt {
	case "text/plain":
		p.Text += string(b)
	case "text/html":
		p.HTML += string(b)
	default:
		p.Attachments[params["name"]] = b
	}
	return nil
}

var linkRe = regexp.MustCompile(`https?://[^\s"<>]+/s/[A-Za-z0-9_-]{43}`)

// Link returns the signing link in the text body.
func (p *Parsed) Link() string { return linkRe.FindString(p.Text) }

// SMS is one message received by the SMS sink.
type SMS struct {
	To, Text string
}

// SMSSink is an HTTP server that accepts a generic JSON gateway body {"to": …, "text": …} and
// the Twilio Messages form, and keeps the messages.
type SMSSink struct {
	Server *httptest.Server
	mu     sync.Mutex
	msgs   []SMS
	fail   int
}

// NewSMSSink starts the sink, closed when the test ends.
func NewSMSSink(t testing.TB) *SMSSink {
	s := &SMSSink{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.fail > 0 {
			s.fail--
			http.Error(w, "unavailable", http.StatusServiceUnavailable)
			return
		}
		var m SMS
		if strings.HasSuffix(r.URL.Path, "/Messages.json") {
			user, pass, ok := r.BasicAuth()
			if !ok || user != "AC-test" || pass != "token-test" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			m = SMS{To: r.PostForm.Get("To"), Text: r.PostForm.Get("Body")}
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"sid":"SM1","status":"queued"}`))
		} else {
			if r.Header.Get("Authorization") != "Bearer gateway-key" {
				http.Error(w, "unauthorized", http.StatusUnauthorized)
				return
			}
			if err := json.NewDecoder(r.Body).Decode(&m); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			_, _ = w.Write([]byte(`{"status":"accepted"}`))
		}
		s.msgs = append(s.msgs, m)
	}))
	t.Cleanup(s.Server.Close)
	return s
}

// FailNext makes the sink answer 503 to the next n requests.
func (s *SMSSink) FailNext(n int) {
	s.mu.Lock()
	s.fail = n
	s.mu.Unlock()
}

// Messages returns the SMS received so far.
func (s *SMSSink) Messages() []SMS {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SMS(nil), s.msgs...)
}

var codeRe = regexp.MustCompile(`\b[0-9]{6}\b`)

// LastCodeFor returns the code in the last SMS sent to phone.
func (s *SMSSink) LastCodeFor(phone string) string {
	msgs := s.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		if msgs[i].To == phone {
			return codeRe.FindString(msgs[i].Text)
		}
	}
	return ""
}

// Notifiers sends emails to smtp (STARTTLS, AUTH PLAIN) and SMS to sms (its generic JSON
// gateway), as an appliance configured with an SMTP server and an HTTP gateway does.
func Notifiers(t testing.TB, smtp *SMTPSink, sms *SMSSink) ceremony.Notifiers {
	t.Helper()
	mailer, err := ceremony.NewSMTPMailer(ceremony.SMTPConfig{Host: smtp.Host, Port: smtp.Port, TLS: "starttls", TLSConfig: smtp.ClientTLS,
		Username: smtp.User, Password: smtp.Password, From: "Paraphe <signatures@paraphe.test>"})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := ceremony.NewHTTPGateway(ceremony.HTTPGatewayConfig{URL: sms.Server.URL + "/send",
		Headers: map[string]string{"Authorization": "Bearer gateway-key", "Content-Type": "application/json"},
		Body:    `{"to": {{json .To}}, "text": {{json .Text}}}`, SuccessContains: "accepted"})
	if err != nil {
		t.Fatal(err)
	}
	return ceremony.Notifiers{Mail: mailer, Text: gw}
}
