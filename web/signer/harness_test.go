package signer_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/paraphe/paraphe/ca/keys"
	"github.com/paraphe/paraphe/ceremony"
	"github.com/paraphe/paraphe/ceremony/ceremonytest"
	"github.com/paraphe/paraphe/internal/testworld"
	"github.com/paraphe/paraphe/tsa"
	"github.com/paraphe/paraphe/web/api"
	"github.com/paraphe/paraphe/web/signer"
)

// world is a running appliance (ceremony service, sender API, signer protocol) over a real
// ledger, with a real SMTP sink and a real HTTP SMS sink.
type world struct {
	t      testing.TB
	srv    *httptest.Server
	svc    *ceremony.Service
	db     *badger.DB
	ledger *ceremonytest.Ledger
	ca     *ceremonytest.CA
	smtp   *ceremonytest.SMTPSink
	sms    *ceremonytest.SMSSink
	clock  *testworld.Clock
	key    string
	dir    string
	base   ceremony.Options
	pki    http.Handler
	outbox *ceremony.Outbox
	sealer ceremony.Sealer
	tsa    *tsa.TSA // set by newRealWorld
	// receiptWait is how long answers wait for receipts (3 s in tests).
	receiptWait time.Duration
	// roots and rootCert are set by newRealWorld.
	roots    *x509.CertPool
	rootCert *x509.Certificate
	// dataKey seals the stored secrets: the key set's in newRealWorld, an ephemeral one else.
	dataKey *keys.DataKey
}

func newWorld(t testing.TB) *world { return buildWorld(t, false) }

// newRealWorld is newWorld with the appliance's real CA (ca, ca/keys), TSA (tsa) and PAdES
// engine (pades) instead of the test CA and PDF engine.
func newRealWorld(t testing.TB) *world { return buildWorld(t, true) }

func buildWorld(t testing.TB, real bool) *world {
	t.Helper()
	tw := testworld.New(t)
	w := &world{t: t, srv: tw.Server, db: tw.DB, dir: tw.Dir, ledger: tw.Ledger, ca: ceremonytest.NewCA(t), smtp: ceremonytest.NewSMTPSink(t),
		sms: ceremonytest.NewSMSSink(t), clock: testworld.NewClock(time.Now().UTC()), receiptWait: testworld.ReceiptWait}
	mux := http.NewServeMux()
	var engine ceremony.PDFEngine = ceremonytest.PDF{}
	var issuer ceremony.CertificateIssuer = w.ca
	if real {
		// The appliance's key ceremony, CA (mounted for CRL and OCSP) and TSA.
		pki := tw.PKI()
		for _, pattern := range pki.Mount().Patterns {
			mux.Handle(pattern, pki.Mount().Handler)
		}
		engine, issuer = pki.PDF(), pki.Issuer()
		w.tsa, w.sealer, w.roots, w.rootCert, w.dataKey = pki.TSA, pki.Sealer, pki.Roots, pki.Keys.Root, pki.Keys.DataKey()
	} else {
		var err error
		if w.dataKey, err = keys.NewEphemeralDataKey(); err != nil {
			t.Fatal(err)
		}
	}
	w.base = tw.CeremonyOptions(engine, issuer, ceremonytest.Notifiers(t, w.smtp, w.sms))
	w.base.Secrets, w.base.Now = w.dataKey, w.clock.Now
	w.pki = mux
	w.start()
	w.key = tw.NewAPIKey()
	return w
}

// start opens the ceremony service with w.base and serves it (with the PKI routes, if any).
func (w *world) start() {
	t := w.t
	t.Helper()
	svc, err := ceremony.New(context.Background(), w.base)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	w.svc = svc
	ah, err := api.New(api.Options{Service: svc, DB: w.db, Outbox: w.outbox, Sealer: w.sealer, Logger: w.base.Logger, ReceiptWait: w.receiptWait})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/api/v1/", ah)
	mux.Handle("/s/", signer.New(signer.Options{Service: svc, Logger: w.base.Logger, ReceiptWait: w.receiptWait}))
	mux.Handle("/", w.pki)
	w.srv.Config.Handler = mux
}

// restart stops the service as a crash would leave it (its Badger state as written so far)
// and opens a new one over the same database and documents.
func (w *world) restart() {
	w.t.Helper()
	w.svc.Close()
	w.start()
}

// reply is a decoded JSON answer.
type reply struct {
	Status int
	Body   []byte
}

func (r reply) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// errCode returns the error code of an error answer.
func (r reply) errCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(r.Body, &e)
	return e.Error.Code
}

func do(t testing.TB, c *http.Client, method, url string, hdr map[string]string, body io.Reader) reply {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, b}
}

// api calls the sender API with the world's key.
func (w *world) api(method, path string, body any) reply {
	w.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	return do(w.t, http.DefaultClient, method, w.srv.URL+path, map[string]string{"Authorization": "Bearer " + w.key, "Content-Type": "application/json"}, rd)
}

// upload posts a manifest and files as multipart.
func (w *world) upload(manifest any, files map[string][]byte) reply {
	w.t.Helper()
	var mb []byte
	switch m := manifest.(type) {
	case nil:
	case []byte:
		mb = m
	case string:
		mb = []byte(m)
	default:
		mb, _ = json.Marshal(m)
	}
	b, contentType := testworld.Upload(mb, files)
	return do(w.t, http.DefaultClient, "POST", w.srv.URL+"/api/v1/envelopes",
		map[string]string{"Authorization": "Bearer " + w.key, "Content-Type": contentType}, b)
}

// party is a signer's browser: a cookie jar and the CSRF token.
type party struct {
	w     *world
	c     *http.Client
	csrf  string
	phone string
}

func (w *world) party(phone string) *party {
	jar, _ := cookiejar.New(nil)
	return &party{w: w, c: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, phone: phone}
}

// open follows an invitation link as a JSON client.
func (p *party) open(link string) reply {
	p.w.t.Helper()
	r := do(p.w.t, p.c, "GET", link, map[string]string{"Accept": "application/json"}, nil)
	if r.Status == http.StatusOK {
		var v struct {
			CSRF string `json:"csrf_token"`
		}
		r.json(p.w.t, &v)
		p.csrf = v.CSRF
	}
	return r
}

func (p *party) get(path string) reply {
	p.w.t.Helper()
	return do(p.w.t, p.c, "GET", p.w.srv.URL+path, nil, nil)
}

func (p *party) post(path string, body any) reply {
	p.w.t.Helper()
	var rd io.Reader = strings.NewReader("{}")
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	return do(p.w.t, p.c, "POST", p.w.srv.URL+path, map[string]string{"Content-Type": "application/json", signer.CSRFHeader: p.csrf}, rd)
}

type stateReply struct {
	Events []ceremony.EventRef `json:"events"`
	State  ceremony.SignerView `json:"state"`
	CSRF   string              `json:"csrf_token"`
	Error  *ceremony.Error     `json:"error"`
}

func (p *party) state() ceremony.SignerView {
	p.w.t.Helper()
	r := p.get("/s/api/state")
	if r.Status != http.StatusOK {
		p.w.t.Fatalf("state: %d %s", r.Status, r.Body)
	}
	var s stateReply
	r.json(p.w.t, &s)
	return s.State
}

func (p *party) readPage(doc, page int) reply {
	return p.post(fmt.Sprintf("/s/api/documents/%d/pages/%d/read", doc, page), nil)
}

func (p *party) fill(values map[string]string) reply {
	return p.post("/s/api/fields", map[string]any{"values": values})
}

// lastMailTo returns the latest email received for addr.
func (w *world) lastMailTo(addr string) *ceremonytest.Parsed {
	w.t.Helper()
	ms := w.smtp.Mails()
	for i := len(ms) - 1; i >= 0; i-- {
		for _, to := range ms[i].To {
			if to == addr {
				p, err := ms[i].Parse()
				if err != nil {
					w.t.Fatal(err)
				}
				return p
			}
		}
	}
	w.t.Fatalf("no email to %s", addr)
	return nil
}

func (w *world) mailsTo(addr string) int {
	n := 0
	for _, m := range w.smtp.Mails() {
		for _, to := range m.To {
			if to == addr {
				n++
			}
		}
	}
	return n
}

// seedManifest is the seed's envelope: two signers in sequence, two documents, each with
// required fields for both.
func seedManifest() map[string]any {
	return map[string]any{
		"title":      "Compromis de vente — 12 rue des Lilas",
		"message":    "Merci de lire et signer le compromis et son annexe.",
		"order":      "sequential",
		"expires_in": "720h",
		"reminders":  []string{"48h"},
		"signers": []map[string]any{
			{"id": "alice", "name": "Alice Martin", "email": "alice@example.org", "phone": "+33612345678", "locale": "fr", "order": 1},
			{"id": "bob", "name": "Bob Smith", "email": "bob@example.org", "phone": "+447700900123", "locale": "en", "order": 2},
		},
		"documents": []map[string]any{
			{"id": "compromis", "file": "compromis.pdf", "name": "Compromis de vente", "fields": []map[string]any{
				{"id": "alice_city", "label": "Fait à", "signer": "alice", "page": 1, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true},
				{"id": "bob_city", "label": "Made in", "signer": "bob", "page": 3, "rect": map[string]float64{"x": 72, "y": 100, "w": 200, "h": 20}, "required": true},
			}},
			{"id": "annexe", "file": "annexe.pdf", "name": "Annexe", "fields": []map[string]any{
				{"id": "alice_iban", "label": "IBAN", "signer": "alice", "page": 2, "rect": map[string]float64{"x": 72, "y": 200, "w": 300, "h": 20}, "required": true, "pattern": "FR[0-9]{12}", "max_length": 14},
				{"id": "bob_initials", "label": "Initials", "signer": "bob", "page": 1, "rect": map[string]float64{"x": 400, "y": 60, "w": 80, "h": 20}, "required": true, "max_length": 4},
			}},
		},
	}
}

func seedFiles() map[string][]byte {
	return map[string][]byte{"compromis.pdf": ceremonytest.MinimalPDF(3, "Compromis"), "annexe.pdf": ceremonytest.MinimalPDF(2, "Annexe")}
}

// created creates and sends the seed envelope and returns its id.
func (w *world) sentEnvelope(m map[string]any) string {
	w.t.Helper()
	r := w.upload(m, seedFiles())
	if r.Status != http.StatusCreated {
		w.t.Fatalf("create: %d %s", r.Status, r.Body)
	}
	var v struct{ ID string }
	r.json(w.t, &v)
	if r := w.api("POST", "/api/v1/envelopes/"+v.ID+"/send", nil); r.Status != http.StatusOK {
		w.t.Fatalf("send: %d %s", r.Status, r.Body)
	}
	return v.ID
}

// readAll reads every page and fills the fields of a party, as the seed asks.
func (p *party) readAll(values map[string]string) {
	t := p.w.t
	t.Helper()
	st := p.state()
	for _, d := range st.Documents {
		for pg := 1; pg <= d.Pages; pg++ {
			if r := p.readPage(d.Number, pg); r.Status != http.StatusOK {
				t.Fatalf("read %d/%d: %d %s", d.Number, pg, r.Status, r.Body)
			}
		}
		mine := map[string]string{}
		for _, f := range d.Fields {
			mine[f.ID] = values[f.ID]
		}
		if len(mine) > 0 {
			if r := p.fill(mine); r.Status != http.StatusOK {
				t.Fatalf("fill %v: %d %s", mine, r.Status, r.Body)
			}
		}
	}
}

// consent chooses to sign with the consent digest the state shows.
func (p *party) consent() reply {
	st := p.state()
	if st.Consent == nil {
		p.w.t.Fatalf("no consent text in state: %+v", st)
	}
	return p.post("/s/api/sign", map[string]string{"consent_digest": st.Consent.Digest})
}
