package signerui

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"io"
	"io/fs"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca"
	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/api"
	"github.com/paraphe/paraphe/web/signer"
)

func TestMain(m *testing.M) {
	ceremonytest.QuietTrillian()
	os.Exit(m.Run())
}

// world is a running appliance as a signer's browser meets it: the front handler (package web,
// with its default headers), the sender API, the signer protocol with these pages mounted, and
// the real ledger, CA, TSA and PAdES engine, with an SMTP sink for the invitations and an HTTP
// SMS sink for the codes. It follows the assembly of web/signer's tests.
type world struct {
	t     testing.TB
	srv   *httptest.Server
	svc   *ceremony.Service
	ui    *Handler
	smtp  *ceremonytest.SMTPSink
	sms   *ceremonytest.SMSSink
	key   string
	roots *x509.CertPool
}

// worldOptions change how a world is built.
type worldOptions struct {
	dwell time.Duration
	pdfjs fs.FS // nil: the embedded pdf.js
}

func newWorld(t testing.TB, o worldOptions) *world {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	w := &world{t: t, smtp: ceremonytest.NewSMTPSink(t), sms: ceremonytest.NewSMSSink(t)}
	db, err := badger.Open(badger.DefaultOptions(dir + "/db").WithLogger(nil).WithSyncWrites(true))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.srv = httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(w.srv.Close)
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}

	set, err := keys.Init(ctx, keys.Options{Dir: dir + "/keys", Passphrase: []byte("test passphrase"), Organization: "Paraphe Test",
		Country: "FR", LedgerKeyName: "paraphe.test", BaseURL: w.srv.URL})
	if err != nil {
		t.Fatalf("key ceremony: %v", err)
	}
	authority, err := ca.New(ctx, ca.Options{Keys: set, DB: db, BaseURL: w.srv.URL, Logger: logger})
	if err != nil {
		t.Fatalf("ca: %v", err)
	}
	chain := []*x509.Certificate{}
	if set.TSA.CheckSignatureFrom(set.Issuing) == nil {
		chain = append(chain, set.Issuing)
	}
	ts, err := tsa.New(ctx, tsa.Options{Signer: set.TSASigner, Cert: set.TSA, Chain: append(chain, set.Root), IncludeChain: true,
		StateDir: dir + "/tsa", Logger: logger})
	if err != nil {
		t.Fatalf("tsa: %v", err)
	}
	t.Cleanup(func() { ts.Close() })
	w.roots = x509.NewCertPool()
	w.roots.AddCert(set.Root)

	mailer, err := ceremony.NewSMTPMailer(ceremony.SMTPConfig{Host: w.smtp.Host, Port: w.smtp.Port, TLS: "starttls", TLSConfig: w.smtp.ClientTLS,
		Username: w.smtp.User, Password: w.smtp.Password, From: "Paraphe <signatures@paraphe.test>"})
	if err != nil {
		t.Fatal(err)
	}
	gw, err := ceremony.NewHTTPGateway(ceremony.HTTPGatewayConfig{URL: w.sms.Server.URL + "/send",
		Headers: map[string]string{"Authorization": "Bearer gateway-key", "Content-Type": "application/json"},
		Body:    `{"to": {{json .To}}, "text": {{json .Text}}}`, SuccessContains: "accepted"})
	if err != nil {
		t.Fatal(err)
	}
	w.svc, err = ceremony.New(ctx, ceremony.Options{DB: db, DataDir: dir, Ledger: ceremonytest.NewLedger(t).Ceremony(),
		PDF:    ceremony.PAdES{Timestamper: ts, Certs: []*x509.Certificate{set.Root}, Logger: logger},
		Issuer: ceremony.CAIssuer{CA: authority, Chain: []*x509.Certificate{set.Issuing, set.Root}}, Notifier: ceremony.Notifiers{Mail: mailer, Text: gw},
		BaseURL: w.srv.URL, Organization: "Notaires Associés", Logger: logger, RetryDelays: []time.Duration{10 * time.Millisecond},
		ReceiptWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { w.svc.Close() })
	apiH, err := api.New(api.Options{Service: w.svc, DB: db, Logger: logger, ReceiptWait: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	uiOpt := Options{Service: w.svc, Logger: logger, ReadDwell: o.dwell}
	if o.pdfjs != nil {
		w.ui, err = newHandler(uiOpt, o.pdfjs)
	} else {
		w.ui, err = New(uiOpt)
	}
	if err != nil {
		t.Fatal(err)
	}
	front, err := web.New(web.Options{MaxBodyBytes: 110 << 20, RequestTimeout: time.Minute, Logger: logger, Mounts: []web.Mount{
		{Patterns: []string{"/api/v1/"}, Handler: apiH},
		{Patterns: []string{"/s/"}, Handler: signer.New(signer.Options{Service: w.svc, Logger: logger, ReceiptWait: 3 * time.Second, Page: w.ui})},
		{Patterns: []string{"/ca/", "/ocsp", "/ocsp/"}, Handler: authority.Handler()},
	}})
	if err != nil {
		t.Fatal(err)
	}
	w.srv.Config.Handler = front
	w.key, _ = api.NewKey()
	if err := api.RegisterKey(ctx, db, "notaires", w.key); err != nil {
		t.Fatal(err)
	}
	return w
}

// call calls the sender API with the world's key.
func (w *world) call(method, path, contentType string, body io.Reader) (int, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.srv.URL+path, body)
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// send creates and sends an envelope and returns its id.
func (w *world) send(manifest map[string]any, files map[string][]byte) string {
	w.t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	mb, _ := json.Marshal(manifest)
	pw, _ := mw.CreateFormField("manifest")
	pw.Write(mb)
	for name, data := range files {
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write(data)
	}
	mw.Close()
	status, body := w.call("POST", "/api/v1/envelopes", mw.FormDataContentType(), &b)
	if status != http.StatusCreated {
		w.t.Fatalf("create: %d %s", status, body)
	}
	var v struct{ ID string }
	if err := json.Unmarshal(body, &v); err != nil {
		w.t.Fatal(err)
	}
	if status, body := w.call("POST", "/api/v1/envelopes/"+v.ID+"/send", "application/json", nil); status != http.StatusOK {
		w.t.Fatalf("send: %d %s", status, body)
	}
	return v.ID
}

// link is the personal link of the latest invitation to addr.
func (w *world) link(addr string) string {
	w.t.Helper()
	ms := w.smtp.Mails()
	for i := len(ms) - 1; i >= 0; i-- {
		for _, to := range ms[i].To {
			if to == addr {
				p, err := ms[i].Parse()
				if err != nil {
					w.t.Fatal(err)
				}
				if l := p.Link(); l != "" {
					return l
				}
			}
		}
	}
	w.t.Fatalf("no invitation to %s", addr)
	return ""
}

// seedManifest is the seed's envelope: Alice (French) then Bob (English), two documents, each
// with required fields for both.
func seedManifest() map[string]any {
	return map[string]any{
		"title":      "Compromis de vente — 12 rue des Lilas",
		"message":    "Merci de lire et signer le compromis et son annexe.\nLe notaire reste à votre disposition.",
		"order":      "sequential",
		"expires_in": "720h",
		"signers": []map[string]any{
			{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr", "order": 1},
			{"id": "bob", "name": "Bob Smith", "email": "bob@example.org", "phone": "+447700900123", "locale": "en", "order": 2},
		},
		"documents": []map[string]any{
			{"id": "compromis", "file": "compromis.pdf", "name": "Compromis de vente", "fields": []map[string]any{
				{"id": "alice_city", "label": "Fait à", "signer": "alice", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 22}, "required": true},
				{"id": "bob_city", "label": "Made in", "signer": "bob", "page": 3, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 22}, "required": true},
			}},
			{"id": "annexe", "file": "annexe.pdf", "name": "Annexe", "fields": []map[string]any{
				{"id": "alice_iban", "label": "IBAN", "signer": "alice", "page": 2, "rect": map[string]float64{"x": 72, "y": 200, "w": 300, "h": 22}, "required": true, "pattern": "FR[0-9]{12}", "max_length": 14},
				{"id": "bob_initials", "label": "Initials", "signer": "bob", "page": 1, "rect": map[string]float64{"x": 400, "y": 60, "w": 80, "h": 22}, "required": true, "max_length": 4},
			}},
		},
	}
}

func seedFiles() map[string][]byte {
	return map[string][]byte{"compromis.pdf": ceremonytest.MinimalPDF(3, "Compromis de vente"), "annexe.pdf": ceremonytest.MinimalPDF(2, "Annexe")}
}
