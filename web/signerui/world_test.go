package signerui

import (
	"crypto/x509"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/testworld"
	"github.com/paraphe/paraphe/web"
	"github.com/paraphe/paraphe/web/signer"
)

func TestMain(m *testing.M) {
	ceremonytest.QuietTrillian()
	os.Exit(m.Run())
}

// world is a running appliance as a signer's browser meets it: the front handler (package web,
// with its default headers), the sender API, the signer protocol with these pages mounted, and
// the real ledger, CA, TSA and PAdES engine, with an SMTP sink for the invitations and an HTTP
// SMS sink for the codes, and the signer's evidence bundle, assembled by package internal/testworld.
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
	tw := testworld.New(t)
	w := &world{t: t, srv: tw.Server, smtp: ceremonytest.NewSMTPSink(t), sms: ceremonytest.NewSMSSink(t)}
	pki := tw.PKI()
	w.roots = pki.Roots
	w.svc = tw.Ceremony(tw.CeremonyOptions(pki.PDF(), pki.Issuer(), ceremonytest.Notifiers(t, w.smtp, w.sms)))
	uiOpt := Options{Service: w.svc, Logger: tw.Logger, ReadDwell: o.dwell}
	var err error
	if o.pdfjs != nil {
		w.ui, err = newHandler(uiOpt, o.pdfjs)
	} else {
		w.ui, err = New(uiOpt)
	}
	if err != nil {
		t.Fatal(err)
	}
	tw.Serve(
		web.Mount{Patterns: []string{"/api/v1/"}, Handler: tw.API(w.svc)},
		web.Mount{Patterns: []string{"/s/"}, Handler: signer.New(signer.Options{Service: w.svc, Logger: tw.Logger, ReceiptWait: testworld.ReceiptWait, Page: w.ui,
			Evidence: pki.Evidence(tw.Ledger, w.svc)})},
		pki.Mount(),
	)
	w.key = tw.NewAPIKey()
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
	mb, _ := json.Marshal(manifest)
	b, contentType := testworld.Upload(mb, files)
	status, body := w.call("POST", "/api/v1/envelopes", contentType, b)
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
